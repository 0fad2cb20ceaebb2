// Microsoft's JS Data Lake SDK (@azure/storage-file-datalake, pinned in package-lock.json),
// unmodified, against the emulator: the calls an application makes, with assertions on
// content and properties as the service returns them. The emulator's endpoints come from
// the environment (tests/conformance.rs starts it; NODE_EXTRA_CA_CERTS trusts its CA).

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { ClientSecretCredential } from "@azure/identity";
import { DataLakeServiceClient } from "@azure/storage-file-datalake";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run this suite through cargo test --test conformance`);
  return value;
};

let service;

before(() => {
  const credential = new ClientSecretCredential(
    env("EMULATOR_TENANT_ID"),
    env("EMULATOR_CLIENT_ID"),
    env("EMULATOR_CLIENT_SECRET"),
    { authorityHost: env("EMULATOR_AUTHORITY"), disableInstanceDiscovery: true },
  );
  service = new DataLakeServiceClient(env("EMULATOR_ACCOUNT_URL"), credential);
});

async function freshFileSystem() {
  const fs = service.getFileSystemClient(`js-${randomUUID().slice(0, 12)}`);
  await fs.create();
  return fs;
}

async function readAll(file) {
  const response = await file.read();
  const chunks = [];
  for await (const chunk of response.readableStreamBody) chunks.push(chunk);
  return Buffer.concat(chunks);
}

test("upload and read back a file", async () => {
  const fs = await freshFileSystem();
  const file = fs.getFileClient("dir/data.csv");
  const data = Buffer.from("a,b\n1,2\n".repeat(1000));
  await file.upload(data);
  assert.deepEqual(await readAll(file), data);
  const props = await file.getProperties();
  assert.equal(props.contentLength, data.length);
  const ranged = await file.read(2, 5);
  assert.equal(ranged.contentLength, 5);
});

test("append and flush by hand, out of order", async () => {
  const fs = await freshFileSystem();
  const file = fs.getFileClient("parts.bin");
  await file.create();
  const first = Buffer.from("hello ");
  const second = Buffer.from("world");
  await file.append(second, first.length, second.length);
  await file.append(first, 0, first.length);
  const flushed = await file.flush(first.length + second.length, { close: true });
  assert.ok(flushed.etag);
  assert.equal((await readAll(file)).toString(), "hello world");
  await assert.rejects(file.flush(100), (e) => e.statusCode === 400 && e.code === "InvalidFlushPosition");
});

test("conditions: create-only and stale ETags", async () => {
  const fs = await freshFileSystem();
  const file = fs.getFileClient("c.txt");
  const created = await file.create();
  await assert.rejects(
    file.create({ conditions: { ifNoneMatch: "*" } }),
    (e) => e.statusCode === 409 && e.code === "PathAlreadyExists",
  );
  await file.append(Buffer.from("x"), 0, 1);
  await file.flush(1);
  await assert.rejects(
    file.setMetadata({ k: "v" }, { conditions: { ifMatch: created.etag } }),
    (e) => e.statusCode === 412,
  );
  assert.equal(await file.exists(), true);
});

test("move a file and a directory (path-style URLs)", async () => {
  const fs = await freshFileSystem();
  await fs.getFileClient("src/a.csv").upload(Buffer.from("a"));
  const moved = await fs.getFileClient("src/a.csv").move("src/b.csv");
  assert.ok(moved);
  assert.equal((await readAll(fs.getFileClient("src/b.csv"))).toString(), "a");
  assert.equal(await fs.getFileClient("src/a.csv").exists(), false);
  await fs.getDirectoryClient("src").move("dst");
  assert.equal((await readAll(fs.getFileClient("dst/b.csv"))).toString(), "a");
  const other = await freshFileSystem();
  await fs.getFileClient("dst/b.csv").move(other.name, "moved.csv");
  assert.equal((await readAll(other.getFileClient("moved.csv"))).toString(), "a");
});

test("list paths, recursive and by directory", async () => {
  const fs = await freshFileSystem();
  for (const name of ["d/1.csv", "d/2.csv", "d/sub/3.csv", "top.csv"]) {
    await fs.getFileClient(name).upload(Buffer.from(name));
  }
  const all = [];
  for await (const path of fs.listPaths({ recursive: true })) all.push(path.name);
  assert.deepEqual(all, ["d", "d/1.csv", "d/2.csv", "d/sub", "d/sub/3.csv", "top.csv"]);
  const inD = [];
  for await (const path of fs.listPaths({ path: "d" })) inD.push(`${path.name}${path.isDirectory ? "/" : ""}`);
  assert.deepEqual(inD, ["d/1.csv", "d/2.csv", "d/sub/"]);
  const names = [];
  for await (const item of service.listFileSystems({ prefix: fs.name })) names.push(item.name);
  assert.deepEqual(names, [fs.name]);
});

test("metadata and properties", async () => {
  const fs = await freshFileSystem();
  const file = fs.getFileClient("m.txt");
  await file.upload(Buffer.from("m"), { metadata: { team: "data" } });
  await file.setMetadata({ team: "ops", run: "7" });
  const props = await file.getProperties();
  assert.deepEqual(props.metadata, { team: "ops", run: "7" });
  await file.setHttpHeaders({ contentType: "text/plain" });
  assert.equal((await file.getProperties()).contentType, "text/plain");
});

test("deletes: file, directory, file system", async () => {
  const fs = await freshFileSystem();
  await fs.getFileClient("x/y.txt").upload(Buffer.from("y"));
  await fs.getFileClient("x/y.txt").delete();
  assert.equal(await fs.getFileClient("x/y.txt").exists(), false);
  await fs.getFileClient("x/z.txt").upload(Buffer.from("z"));
  await fs.getDirectoryClient("x").delete(true);
  assert.equal(await fs.getDirectoryClient("x").exists(), false);
  await fs.delete();
  assert.equal(await fs.exists(), false);
});
