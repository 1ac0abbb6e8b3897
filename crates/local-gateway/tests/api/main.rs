//! Integration tests: real HTTP through the local gateway, the real handlers, and moto's DynamoDB.
//! `make test` starts moto and points AWS_ENDPOINT_URL_DYNAMODB at it; every test gets its own table.

mod aws_rules;
mod collect;
mod fault_proxy;
mod faults;
mod goals;
mod helpers;
mod live;
mod load;
mod parameters;
mod privacy;
mod realtime;
mod spreads;
mod store;
mod trust;
mod web;
