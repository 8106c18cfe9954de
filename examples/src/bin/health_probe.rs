//! A health probe for an exec check (Kubernetes `livenessProbe.exec`, Docker `HEALTHCHECK`):
//! `health_probe http://127.0.0.1:50051 [SERVICE]` exits 0 if the service (the whole server when none is
//! named) is SERVING, 1 if not, 2 if the check could not be made; within 1 s.

use std::process::ExitCode;
use std::time::Duration;

use rsgrpc::health::{HealthCheckRequest, HealthClient, ServingStatus};
use rsgrpc::Request;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(target) = args.next() else {
        eprintln!("usage: health_probe TARGET [SERVICE]");
        return ExitCode::from(2);
    };
    let service = args.next().unwrap_or_default();
    let check = async {
        let client = HealthClient::connect(&target).await?;
        let request = Request::new(HealthCheckRequest { service: service.clone(), ..Default::default() })
            .with_timeout(Duration::from_secs(1));
        Ok::<_, rsgrpc::Status>(client.check(request).await?.into_inner().status())
    };
    match tokio::time::timeout(Duration::from_secs(1), check).await {
        Ok(Ok(ServingStatus::Serving)) => {
            println!("SERVING");
            ExitCode::SUCCESS
        }
        Ok(Ok(status)) => {
            println!("{}", status.as_str_name());
            ExitCode::from(1)
        }
        Ok(Err(status)) => {
            eprintln!("health check failed: {status}");
            ExitCode::from(2)
        }
        Err(_) => {
            eprintln!("health check timed out");
            ExitCode::from(2)
        }
    }
}
