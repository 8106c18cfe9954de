//! The standard health service (`grpc.health.v1.Health`), which load balancers, Kubernetes and Envoy probe:
//! [`health_service`] gives the service to register and a [`HealthReporter`] to set each service's status.

/// The generated `grpc.health.v1` package: messages, `HealthClient` and the `Health` trait.
pub mod proto {
    include!("grpc.health.v1.rs");
}

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use proto::health_check_response::ServingStatus;
pub use proto::health_client::HealthClient;
pub use proto::health_server::{Health, HealthServer};
pub use proto::{HealthCheckRequest, HealthCheckResponse};
use tokio::sync::watch;

use crate::server::BoxStream;
use crate::{Request, Response, Status};

/// The statuses, shared by the reporter and the service.
type Statuses = Arc<Mutex<HashMap<String, watch::Sender<ServingStatus>>>>;

/// Sets the status the health service reports for each service (the empty name is the server as a whole).
#[derive(Clone, Debug, Default)]
pub struct HealthReporter {
    statuses: Statuses,
}

impl HealthReporter {
    /// Sets `service`'s status; watchers see the change.
    pub fn set_serving_status(&self, service: &str, status: ServingStatus) {
        let mut statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        match statuses.get(service) {
            Some(sender) => {
                sender.send_replace(status);
            }
            None => {
                statuses.insert(service.to_owned(), watch::Sender::new(status));
            }
        }
    }

    /// Marks `service` SERVING.
    pub fn set_serving(&self, service: &str) {
        self.set_serving_status(service, ServingStatus::Serving);
    }

    /// Marks `service` NOT_SERVING.
    pub fn set_not_serving(&self, service: &str) {
        self.set_serving_status(service, ServingStatus::NotServing);
    }

    /// Forgets `service`: Check answers NOT_FOUND again, watchers see SERVICE_UNKNOWN.
    pub fn clear_service_status(&self, service: &str) {
        let mut statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = statuses.remove(service) {
            sender.send_replace(ServingStatus::ServiceUnknown);
        }
    }

    /// `service`'s status as `Check` answers it: `None` for a service never set (`NOT_FOUND`).
    pub fn serving_status(&self, service: &str) -> Option<ServingStatus> {
        self.current(service).filter(|status| *status != ServingStatus::ServiceUnknown)
    }

    fn current(&self, service: &str) -> Option<ServingStatus> {
        let statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        statuses.get(service).map(|sender| *sender.borrow())
    }

    /// A receiver of `service`'s status, registering the service as unknown if needed, so a watcher sees it
    /// appear later.
    fn subscribe(&self, service: &str) -> watch::Receiver<ServingStatus> {
        let mut statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        statuses
            .entry(service.to_owned())
            .or_insert_with(|| watch::Sender::new(ServingStatus::ServiceUnknown))
            .subscribe()
    }
}

/// The health service, reporting what its [`HealthReporter`] sets.
#[derive(Clone, Debug)]
pub struct HealthService {
    reporter: HealthReporter,
}

/// The health service and its reporter; the server as a whole (`""`) starts SERVING.
pub fn health_service() -> (HealthReporter, HealthServer<HealthService>) {
    let reporter = HealthReporter::default();
    reporter.set_serving("");
    (reporter.clone(), HealthServer::new(HealthService { reporter }))
}

fn answer(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse { status: status as i32, ..Default::default() }
}

impl Health for HealthService {
    async fn check(&self, request: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        let service = request.into_inner().service;
        match self.reporter.current(&service) {
            Some(status) if status != ServingStatus::ServiceUnknown => Ok(Response::new(answer(status))),
            _ => Err(Status::not_found(format!("unknown service {service:?}"))),
        }
    }

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<BoxStream<HealthCheckResponse>>, Status> {
        let service = request.into_inner().service;
        let receiver = self.reporter.subscribe(&service);
        let watcher = Watcher { receiver, reporter: self.reporter.clone(), service, first: true };
        // The status now, then one answer per change, until the client goes away.
        let stream = futures_util::stream::unfold(watcher, |mut watcher| async move {
            if !watcher.first && watcher.receiver.changed().await.is_err() {
                return None;
            }
            watcher.first = false;
            let status = *watcher.receiver.borrow_and_update();
            Some((Ok(answer(status)), watcher))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// One Watch call's subscription. Watching an unknown service registers it (so the watcher sees it appear),
/// and the last watcher to leave removes it again: clients watching made-up names must not grow the map
/// for good.
struct Watcher {
    receiver: watch::Receiver<ServingStatus>,
    reporter: HealthReporter,
    service: String,
    first: bool,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let mut statuses = self.reporter.statuses.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sender) = statuses.get(&self.service) else { return };
        // This watcher's receiver is still alive here, so "only us" is a count of one.
        if *sender.borrow() == ServingStatus::ServiceUnknown && sender.receiver_count() <= 1 {
            statuses.remove(&self.service);
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[tokio::test]
    async fn watching_unknown_services_leaves_nothing_behind() {
        let (reporter, _server) = health_service();
        let service = HealthService { reporter: reporter.clone() };
        for name in ["made-up-1", "made-up-2"] {
            let request = Request::new(HealthCheckRequest { service: name.into(), ..Default::default() });
            let mut stream = service.watch(request).await.unwrap().into_inner();
            let first = stream.next().await.unwrap().unwrap();
            assert_eq!(first.status, ServingStatus::ServiceUnknown as i32);
        }
        let names: Vec<String> = reporter.statuses.lock().unwrap().keys().cloned().collect();
        assert_eq!(names, vec![String::new()]);

        // A watched service that becomes known stays known after its watcher leaves.
        let request = Request::new(HealthCheckRequest { service: "real".into(), ..Default::default() });
        let mut stream = service.watch(request).await.unwrap().into_inner();
        stream.next().await.unwrap().unwrap();
        reporter.set_serving("real");
        assert_eq!(stream.next().await.unwrap().unwrap().status, ServingStatus::Serving as i32);
        drop(stream);
        assert_eq!(reporter.current("real"), Some(ServingStatus::Serving));
    }
}
