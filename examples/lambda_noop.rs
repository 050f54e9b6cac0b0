//! The yardstick of `scripts/cold_start.py`: a `lambda_runtime` function that does nothing but
//! echo its event, built the same way as `preflight-lambda`, whose init it is compared with.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<Value, Error>(event.payload) })).await
}
