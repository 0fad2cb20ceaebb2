use std::os::unix::fs::PermissionsExt;

use super::*;

fn account(secret: StoredSecret) -> SavedAccount {
    SavedAccount {
        auth: None,
        cloud: None,
        client_id: "c".into(),
        tenant_id: "t".into(),
        client_secret: Some(secret),
        federated_token_file: None,
        identity_endpoint: None,
        account_name: "acct".into(),
        container: "box".into(),
        dfs_endpoint: None,
        authority_host: Some("http://127.0.0.1:1".into()),
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn saved_file_is_private_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conf/accounts.toml");
    let mut store = Store::load(&path).unwrap();
    assert_eq!(store.iter().count(), 0, "no file yet: no accounts");
    store.insert("prod", account(StoredSecret::Value("hunter2".into())));
    store.insert(
        "dev",
        account(StoredSecret::Env {
            env: "DEV_SECRET".into(),
        }),
    );
    store.save().unwrap();
    assert_eq!(mode(&path), 0o600);
    let again = Store::load(&path).unwrap();
    let names: Vec<_> = again.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["dev", "prod"]);
    assert_eq!(again.get("prod"), store.get("prod"));
    assert!(
        !format!("{again:?}").contains("hunter2"),
        "Debug never shows a secret"
    );
    let mut again = again;
    assert!(again.remove("dev") && !again.remove("dev"));
}

#[test]
fn readable_file_with_secret_values_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.toml");
    let mut store = Store::load(&path).unwrap();
    store.insert("prod", account(StoredSecret::Value("hunter2".into())));
    store.save().unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = format!("{:#}", Store::load(&path).unwrap_err());
    assert!(
        err.contains(&format!("chmod 600 {}", path.display())),
        "{err}"
    );
    assert!(err.contains("0644") && !err.contains("hunter2"), "{err}");

    // References only: nothing secret in the file, any mode will do.
    store.insert(
        "prod",
        account(StoredSecret::File {
            file: "prod.secret".into(),
        }),
    );
    store.save().unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(Store::load(&path).is_ok());
}

#[test]
fn a_saved_account_becomes_the_account_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.toml");
    std::fs::write(dir.path().join("prod.secret"), "s3cret\n").unwrap();
    let mut store = Store::load(&path).unwrap();
    store.insert(
        "prod",
        account(StoredSecret::File {
            file: "prod.secret".into(),
        }),
    );
    store.insert("inline", account(StoredSecret::Value("v4lue".into())));
    let section = store.section("prod").unwrap();
    assert_eq!(section.account_name.as_deref(), Some("acct"));
    let secret = section
        .client_secret
        .unwrap()
        .resolve(Path::new("/elsewhere"))
        .unwrap();
    assert_eq!(
        secret.expose(),
        "s3cret",
        "a file reference is relative to the accounts file"
    );
    let inline = store.section("inline").unwrap().client_secret.unwrap();
    assert_eq!(inline.resolve(Path::new("/")).unwrap().expose(), "v4lue");
    assert!(store.section("nope").is_none());
}

#[test]
fn each_kind_keeps_its_secret_in_the_key_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::load(&dir.path().join("accounts.toml")).unwrap();
    let file = |name: &str| StoredSecret::File { file: name.into() };
    for (name, auth) in [
        ("key", "shared-key"),
        ("sas", "sas"),
        ("cert", "client-certificate"),
    ] {
        let mut a = account(file(name));
        a.auth = Some(auth.into());
        store.insert(name, a);
    }
    let mut workload = account(file("unused"));
    workload.auth = Some("workload-identity".into());
    workload.client_secret = None;
    workload.federated_token_file = Some("token".into());
    store.insert("workload", workload);
    let mut managed = account(file("unused"));
    managed.auth = Some("managed-identity".into());
    managed.client_secret = None;
    managed.cloud = Some("china".into());
    managed.identity_endpoint = Some("http://127.0.0.1:9/token".into());
    store.insert("managed", managed);

    let key = store.section("key").unwrap();
    assert!(key.account_key.is_some() && key.client_secret.is_none());
    assert!(store.section("sas").unwrap().sas_token.is_some());
    let cert = store.section("cert").unwrap();
    assert!(cert.client_certificate.is_some() && cert.client_secret.is_none());
    let workload = store.section("workload").unwrap();
    assert_eq!(
        workload.federated_token_file.unwrap(),
        dir.path().join("token"),
        "relative to the accounts file"
    );
    let managed = store.section("managed").unwrap();
    assert!(managed.client_secret.is_none());
    assert_eq!(managed.cloud.as_deref(), Some("china"));
    assert_eq!(
        managed.identity_endpoint.as_deref(),
        Some("http://127.0.0.1:9/token")
    );
}

#[test]
fn job_account_is_a_name_or_a_table() {
    #[derive(Deserialize)]
    struct Doc {
        account: AccountField,
    }
    let named: Doc = toml::from_str("account = \"prod\"").unwrap();
    assert!(matches!(named.account, AccountField::Named(ref n) if n == "prod"));
    let table: Doc = toml::from_str("[account]\nclient_id = \"c\"").unwrap();
    assert!(
        matches!(table.account, AccountField::Inline(ref a) if a.client_id.as_deref() == Some("c"))
    );
    let typo = toml::from_str::<Doc>("[account]\nclientid = \"c\"")
        .err()
        .unwrap()
        .to_string();
    assert!(typo.contains("clientid"), "{typo}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.toml");
    let mut problems = Vec::new();
    let load = || Store::load(&path);
    AccountField::Named("ghost".into()).resolve_with(load, &mut problems);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].field, "account");
    assert!(
        problems[0].message.contains("no saved account `ghost`"),
        "{problems:?}"
    );
}
