//! Tables and sites.

use super::*;

/// A table of its own per measurement, so nothing left from another run is read.
pub(crate) async fn fresh_table(client: &Client) -> String {
    let table = format!("bench-{}", EventId::random());
    schema::create_tables(client, &table, &pulse_dynamodb::schema::default_rollup_table(&table))
        .await
        .expect("creating a table on moto (is moto running at AWS_ENDPOINT_URL_DYNAMODB?)");
    table
}

/// A private site for example.com; returns its id and read token.
pub(crate) async fn create_site(store: &DynamoStore, id: &str) -> (SiteId, String) {
    let token = ReadToken::generate();
    let site = Site::new(site_id(id), vec!["example.com".into()], token.hash());
    store.create_site(&site).await.expect("creating the bench site");
    (site.id, token.expose().to_owned())
}

pub(crate) fn site_id(id: &str) -> SiteId {
    SiteId::parse(id).expect("a valid site id")
}
