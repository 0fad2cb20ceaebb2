#!/usr/bin/env bash
# The curl floor: the fewest requests that put a file into ADLS Gen2 (create, one append of
# the whole file, flush), timed as one child process by bench/throughput.py.
#
# The append streams the file with `-T` (`--upload-file`, method PATCH): `--data-binary @file`
# would read it all into memory first, and curl refuses that for files of 1 GiB or more
# ("option --data-binary: out of memory", curl 7.88). `Expect:` is cleared so curl does not
# wait for a `100 Continue` before sending the body.
#
#     curl_upload.sh FILE FILE_URL CA_FILE AUTH_HEADER_FILE integrity|none
#
# With `integrity`, the file's MD5 is computed here (inside the timed interval, as every
# contender does) and sent as the append's Content-MD5 and the flush's x-ms-content-md5.
# The bearer token is read from AUTH_HEADER_FILE (curl's `-H @file`), never from argv.
set -euo pipefail

file="$1" url="$2" ca="$3" auth="$4" mode="$5"
size="$(stat -c %s "$file")"
append_md5=() flush_md5=()
if [[ "$mode" == integrity ]]; then
    md5="$(openssl dgst -md5 -binary "$file" | base64)"
    append_md5=(-H "Content-MD5: $md5")
    flush_md5=(-H "x-ms-content-md5: $md5")
fi

request() {
    curl --silent --show-error --fail-with-body --cacert "$ca" -H @"$auth" \
        -H "x-ms-version: 2023-11-03" --output /dev/null "$@"
}

request -X PUT -H "Content-Length: 0" "$url?resource=file"
request -X PATCH -H "Content-Type: application/octet-stream" -H "Expect:" "${append_md5[@]}" \
    --upload-file "$file" "$url?action=append&position=0"
request -X PATCH -H "Content-Length: 0" "${flush_md5[@]}" \
    "$url?action=flush&position=$size&close=true"
