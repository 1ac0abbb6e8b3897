//! The SDK configuration of the Lambda functions: its trust store holds exactly the Amazon Trust
//! Services roots its header lists, each usable by rustls, and its HTTP client reaches the local
//! DynamoDB.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

fn certificates() -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pulse_dynamodb::AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
        .collect::<Result<_, _>>()
        .expect("every certificate is valid PEM")
}

/// The fingerprints the file's header names, as `AA:BB:…`.
fn listed_fingerprints() -> Vec<String> {
    pulse_dynamodb::AMAZON_TRUST_SERVICES_ROOTS
        .lines()
        .filter_map(|line| line.strip_prefix("#   "))
        .map(|line| line.rsplit_once(": ").expect("`name: fingerprint`").1.to_owned())
        .collect()
}

#[test]
fn the_trust_store_is_the_five_amazon_trust_services_roots_in_its_header() {
    let fingerprints: Vec<String> = certificates()
        .iter()
        .map(|der| {
            let digest = Sha256::digest(der.as_ref());
            digest
                .iter()
                .map(|byte| format!("{byte:02X}"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .collect();
    assert_eq!(
        fingerprints.len(),
        5,
        "Amazon Root CA 1–4 and Starfield Services Root G2"
    );
    assert_eq!(fingerprints, listed_fingerprints());
}

#[test]
fn every_root_is_a_trust_anchor_rustls_accepts() {
    // What rustls's RootCertStore::add does with each certificate; the SDK panics on the first TLS
    // connection if one fails, so it must fail here instead.
    for der in certificates() {
        webpki::anchor_from_trusted_cert(&der).expect("a usable trust anchor");
    }
}

#[tokio::test]
async fn the_lambda_configuration_reaches_the_local_dynamodb() {
    // `make test` points AWS_ENDPOINT_URL_DYNAMODB at its moto (plain HTTP): the functions' own HTTP
    // client, not only its TLS settings, is what this exercises.
    let config = pulse_dynamodb::lambda_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let tables = client.list_tables().send().await.expect("the local DynamoDB answers");
    assert!(tables.table_names.is_some());
}
