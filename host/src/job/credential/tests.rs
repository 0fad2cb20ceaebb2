//! The credential keys of `[account]`: kinds, clouds, SAS expiry, app and tenant IDs.

use std::time::{Duration, SystemTime};

use super::*;

fn resolve_with(
    auth: Option<&str>,
    client: (&str, &str),
    secret: Option<SecretRef>,
    run: Duration,
) -> (Option<Credential>, Vec<FieldError>) {
    let mut problems = Vec::new();
    let keys = CredentialKeys {
        auth,
        client_id: client.0,
        tenant_id: client.1,
        client_secret: secret
            .as_ref()
            .filter(|_| matches!(auth, None | Some("client-secret"))),
        account_key: secret.as_ref().filter(|_| auth == Some("shared-key")),
        sas_token: secret.as_ref().filter(|_| auth == Some("sas")),
        client_certificate: secret
            .as_ref()
            .filter(|_| auth == Some("client-certificate")),
        federated_token_file: None,
        identity_endpoint: None,
    };
    let credential = resolve(keys, Path::new("."), run, &mut problems);
    (credential, problems)
}

fn value(v: &str) -> Option<SecretRef> {
    Some(SecretRef::Resolved(Secret::new(v)))
}

const APP: (&str, &str) = (
    "11111111-2222-3333-4444-555555555555",
    "contoso.onmicrosoft.com",
);
const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn sovereign_clouds_have_their_suffix_and_authority() {
    let table = [
        (
            "public",
            "https://acct.dfs.core.windows.net",
            "https://login.microsoftonline.com",
        ),
        (
            "china",
            "https://acct.dfs.core.chinacloudapi.cn",
            "https://login.chinacloudapi.cn",
        ),
        (
            "us-government",
            "https://acct.dfs.core.usgovcloudapi.net",
            "https://login.microsoftonline.us",
        ),
    ];
    for (name, dfs, authority) in table {
        let cloud = Cloud::parse(name).unwrap();
        assert_eq!(cloud.dfs_endpoint("acct"), dfs, "{name}");
        assert_eq!(cloud.authority_host(), authority, "{name}");
    }
    assert_eq!(Cloud::default(), Cloud::Public);
    assert!(
        Cloud::parse("germany")
            .unwrap_err()
            .contains("\"us-government\"")
    );
}

#[test]
fn every_kind_is_checked_up_front() {
    let (c, p) = resolve_with(None, APP, value("s3cret"), HOUR);
    assert!(
        matches!(c, Some(Credential::ClientSecret(_))) && p.is_empty(),
        "{p:?}"
    );
    let key =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    let (c, p) = resolve_with(Some("shared-key"), ("", ""), value(key), HOUR);
    assert!(
        matches!(c, Some(Credential::SharedKey(_))) && p.is_empty(),
        "{p:?}"
    );
    let (c, p) = resolve_with(Some("shared-key"), ("", ""), value("not base64!"), HOUR);
    assert!(c.is_none());
    assert_eq!(p[0].field, "account.account_key");
    assert!(
        !p[0].message.contains("not base64!"),
        "the key is never quoted"
    );
    let (_, p) = resolve_with(Some("token"), APP, value("x"), HOUR);
    assert_eq!(p[0].field, "account.auth");
    assert!(
        p[0].message.contains("is not a credential kind"),
        "{}",
        p[0].message
    );
}

#[test]
fn a_sas_is_read_and_its_expiry_checked() {
    let future = "sv=2023-11-03&ss=b&srt=sco&sp=racwdl&se=2999-01-01T00:00:00Z&sig=c2ln";
    let (c, p) = resolve_with(Some("sas"), ("", ""), value(&format!("?{future}")), HOUR);
    match c {
        Some(Credential::Sas(sas)) => assert_eq!(sas.token.expose(), future),
        other => panic!("{other:?} {p:?}"),
    }
    let past = "sv=2023-11-03&sp=r&se=2001-01-01T00:00:00Z&sig=c2ln";
    let (c, p) = resolve_with(Some("sas"), ("", ""), value(past), HOUR);
    assert!(c.is_none());
    assert_eq!(p[0].field, "account.sas_token");
    assert!(
        p[0].message.contains("expired at 2001-01-01"),
        "{}",
        p[0].message
    );
    assert!(
        !p[0].message.contains("c2ln"),
        "the signature is never quoted"
    );
    for (token, why) in [
        ("sv=2023-11-03&se=2999-01-01T00:00:00Z", "no signature"),
        ("se=2999-01-01T00:00:00Z&sig=x", "no signed version"),
        ("sv=2023-11-03&sig=x", "no signed expiry"),
        (
            "sv=2023-11-03&se=tomorrow&sig=x",
            "unreadable signed expiry",
        ),
    ] {
        let (_, p) = resolve_with(Some("sas"), ("", ""), value(token), HOUR);
        assert!(p[0].message.contains(why), "{token}: {}", p[0].message);
    }
}

#[test]
fn a_sas_too_short_for_the_run_is_refused() {
    let sas = Sas::parse("sv=2023-11-03&se=2030-01-01T00:00:00Z&sig=x").unwrap();
    let now = sas.expiry - Duration::from_secs(600);
    assert!(sas.check_expiry(now, Duration::from_secs(300)).is_ok());
    let e = sas.check_expiry(now, HOUR).unwrap_err();
    assert!(e.contains("before a run started now could end"), "{e}");
    assert!(e.contains("limits.timeout_secs = 3600"), "{e}");
    let e = sas
        .check_expiry(sas.expiry + Duration::from_secs(1), HOUR)
        .unwrap_err();
    assert!(e.contains("expired"), "{e}");
    assert!(SystemTime::now() < sas.expiry || e.contains("expired"));
}

#[test]
fn app_and_tenant_ids_are_checked_for_client_secrets() {
    let good_clients = [
        "11111111-2222-3333-4444-555555555555",
        "ABCDEF01-abcd-ABCD-0123-456789abcdef",
    ];
    let bad_clients = [
        "",
        "1111111-2222-3333-4444-5555555555555",
        "{11111111-2222-3333-4444-555555555555}",
        "g1111111-2222-3333-4444-555555555555",
    ];
    let good_tenants = [
        "11111111-2222-3333-4444-555555555555",
        "contoso.onmicrosoft.com",
        "x.y",
    ];
    let bad_tenants = [
        "",
        "contoso",
        "contoso..com",
        "-contoso.com",
        "con_toso.com",
        "con toso.com",
    ];
    let fields = |client: &str, tenant: &str| -> Vec<String> {
        let (_, p) = resolve_with(None, (client, tenant), value("s"), HOUR);
        p.into_iter().map(|e| e.field).collect()
    };
    for c in good_clients {
        assert!(fields(c, APP.1).is_empty(), "{c}");
    }
    for c in bad_clients {
        assert_eq!(fields(c, APP.1), ["account.client_id"], "{c}");
    }
    for t in good_tenants {
        assert!(fields(APP.0, t).is_empty(), "{t}");
    }
    for t in bad_tenants {
        assert_eq!(fields(APP.0, t), ["account.tenant_id"], "{t}");
    }
    // A key or SAS needs no app.
    let (_, p) = resolve_with(
        Some("sas"),
        ("", ""),
        value("sv=1&se=2999-01-01T00:00:00Z&sig=x"),
        HOUR,
    );
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn default_follows_azure_identitys_chain_and_names_what_it_tried() {
    // With a client secret, the environment credential.
    let (c, p) = resolve_with(Some("default"), APP, None, HOUR);
    let c = match c {
        Some(c) => c,
        None => panic!("{p:?}"),
    };
    if std::env::var_os("AZURE_CLIENT_SECRET").is_none()
        && std::env::var_os("AZURE_FEDERATED_TOKEN_FILE").is_none()
    {
        match c {
            Credential::ManagedIdentity(m) => {
                assert_eq!(m.url, IMDS_ENDPOINT);
                assert!(m.tried.unwrap().contains("workload identity"));
            }
            other => panic!("{other:?}"),
        }
    }
    let mut problems = Vec::new();
    let secret = value("s");
    let keys = CredentialKeys {
        auth: Some("default"),
        client_id: APP.0,
        tenant_id: APP.1,
        client_secret: secret.as_ref(),
        client_certificate: None,
        account_key: None,
        sas_token: None,
        federated_token_file: None,
        identity_endpoint: None,
    };
    let c = resolve(keys, Path::new("."), HOUR, &mut problems);
    assert!(
        matches!(c, Some(Credential::ClientSecret(_))),
        "{problems:?}"
    );
    // Without a secret, a certificate comes next, then the federated token file.
    let pem = value(adls_writeback_emulator::well_known::CLIENT_CERTIFICATE_PEM);
    let token = std::env::temp_dir().join(format!("default-chain-{}", std::process::id()));
    std::fs::write(&token, "a.b.c").unwrap();
    for (certificate, kind) in [
        (pem.as_ref(), AuthKind::ClientCertificate),
        (None, AuthKind::WorkloadIdentity),
    ] {
        if certificate.is_none() && std::env::var_os("AZURE_CLIENT_SECRET").is_some() {
            continue;
        }
        let mut problems = Vec::new();
        let keys = CredentialKeys {
            auth: Some("default"),
            client_id: APP.0,
            tenant_id: APP.1,
            client_secret: None,
            client_certificate: certificate,
            account_key: None,
            sas_token: None,
            federated_token_file: Some(&token),
            identity_endpoint: None,
        };
        let c = resolve(keys, Path::new("."), HOUR, &mut problems);
        assert_eq!(c.map(|c| c.kind()), Some(kind), "{problems:?}");
    }
    std::fs::remove_file(&token).unwrap();
}

#[test]
fn a_client_certificate_is_read_from_its_pem_and_named_when_missing_or_keyless() {
    let pem = adls_writeback_emulator::well_known::CLIENT_CERTIFICATE_PEM;
    let (c, p) = resolve_with(Some("client-certificate"), APP, value(pem), HOUR);
    assert!(matches!(c, Some(Credential::ClientCertificate(_))), "{p:?}");
    if std::env::var_os("AZURE_CLIENT_CERTIFICATE_PATH").is_none() {
        let (_, p) = resolve_with(Some("client-certificate"), APP, None, HOUR);
        assert_eq!(p[0].field, "account.client_certificate");
        assert!(p[0].message.starts_with("missing"), "{}", p[0].message);
    }
    let certificate_only = pem.split("-----BEGIN PRIVATE KEY-----").next().unwrap();
    let (c, p) = resolve_with(
        Some("client-certificate"),
        APP,
        value(certificate_only),
        HOUR,
    );
    assert!(c.is_none());
    assert_eq!(p[0].field, "account.client_certificate");
    assert!(p[0].message.contains("no private key"), "{}", p[0].message);
}
