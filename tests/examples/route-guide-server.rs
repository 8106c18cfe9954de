//! The route guide server, all four kinds of call: `cargo run -p rsgrpc-tests --example route-guide-server`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rsgrpc::server::{BoxStream, Server};
use rsgrpc::{Request, Response, Status, Streaming};
use rsgrpc_tests::echo::async_stream;
use rsgrpc_tests::gen::routeguide::route_guide_server::{RouteGuide, RouteGuideServer};
use rsgrpc_tests::gen::routeguide::{Feature, Point, Rectangle, RouteNote, RouteSummary};

/// The notes left so far, by point.
type Notes = Arc<Mutex<HashMap<(i32, i32), Vec<RouteNote>>>>;

struct Guide {
    features: Vec<Feature>,
    notes: Notes,
}

fn point(latitude: i32, longitude: i32) -> Point {
    Point { latitude, longitude, ..Default::default() }
}

fn key(point: &Option<Point>) -> (i32, i32) {
    point.as_ref().map_or((0, 0), |p| (p.latitude, p.longitude))
}

fn inside(rectangle: &Rectangle, point: &Point) -> bool {
    let (lo, hi) = (rectangle.lo.clone().unwrap_or_default(), rectangle.hi.clone().unwrap_or_default());
    let (south, north) = (lo.latitude.min(hi.latitude), lo.latitude.max(hi.latitude));
    let (west, east) = (lo.longitude.min(hi.longitude), lo.longitude.max(hi.longitude));
    (south..=north).contains(&point.latitude) && (west..=east).contains(&point.longitude)
}

/// Great-circle distance in meters (the haversine formula).
fn distance(a: &Point, b: &Point) -> f64 {
    let radians = |e7: i32| f64::from(e7) / 1e7 * std::f64::consts::PI / 180.0;
    let (lat1, lat2) = (radians(a.latitude), radians(b.latitude));
    let (dlat, dlon) = (lat2 - lat1, radians(b.longitude) - radians(a.longitude));
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6_371_000.0 * h.sqrt().atan2((1.0 - h).sqrt())
}

impl RouteGuide for Guide {
    async fn get_feature(&self, request: Request<Point>) -> Result<Response<Feature>, Status> {
        let wanted = request.into_inner();
        let found = self.features.iter().find(|f| f.location.as_ref() == Some(&wanted)).cloned();
        Ok(Response::new(found.unwrap_or(Feature { location: Some(wanted), ..Default::default() })))
    }

    async fn list_features(&self, request: Request<Rectangle>) -> Result<Response<BoxStream<Feature>>, Status> {
        let rectangle = request.into_inner();
        let found: Vec<Feature> = self
            .features
            .iter()
            .filter(|f| f.location.as_ref().is_some_and(|p| inside(&rectangle, p)))
            .cloned()
            .collect();
        Ok(Response::new(async_stream(move |sender| async move {
            for feature in found {
                if sender.send(Ok(feature)).await.is_err() {
                    return;
                }
            }
        })))
    }

    async fn record_route(&self, request: Request<Streaming<Point>>) -> Result<Response<RouteSummary>, Status> {
        let started = Instant::now();
        let mut points = request.into_inner();
        let mut summary = RouteSummary::default();
        let mut previous: Option<Point> = None;
        let mut meters = 0.0;
        while let Some(point) = points.message().await? {
            summary.point_count += 1;
            if self.features.iter().any(|f| f.location.as_ref() == Some(&point) && !f.name.is_empty()) {
                summary.feature_count += 1;
            }
            if let Some(previous) = &previous {
                meters += distance(previous, &point);
            }
            previous = Some(point);
        }
        summary.distance = meters as i32;
        summary.elapsed_time = started.elapsed().as_secs() as i32;
        Ok(Response::new(summary))
    }

    async fn route_chat(
        &self,
        request: Request<Streaming<RouteNote>>,
    ) -> Result<Response<BoxStream<RouteNote>>, Status> {
        let mut incoming = request.into_inner();
        let notes = self.notes.clone();
        // Answers each note as it arrives, while the client may still be sending.
        Ok(Response::new(async_stream(move |sender| async move {
            loop {
                let note = match incoming.message().await {
                    Ok(Some(note)) => note,
                    Ok(None) => return,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                let earlier: Vec<RouteNote> = {
                    let mut notes = notes.lock().unwrap_or_else(|e| e.into_inner());
                    let here = notes.entry(key(&note.location)).or_default();
                    let earlier = here.clone();
                    here.push(note);
                    earlier
                };
                for note in earlier {
                    if sender.send(Ok(note)).await.is_err() {
                        return;
                    }
                }
            }
        })))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(10000), |p| p.parse())?;
    let features = [
        ("Patriots Path, Mendham, NJ 07945, USA", 407_838_351, -746_143_763),
        ("101 New Jersey 10, Whippany, NJ 07981, USA", 408_122_808, -743_999_179),
        ("U.S. 6, Shohola, PA 18458, USA", 413_628_156, -749_015_468),
        ("", 419_999_544, -740_371_136),
    ]
    .map(|(name, lat, lon)| Feature { name: name.into(), location: Some(point(lat, lon)), ..Default::default() })
    .to_vec();
    let guide = Guide { features, notes: Arc::default() };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let server = Server::builder().add_service(RouteGuideServer::new(guide)).build();
    server.serve_with_shutdown(listener, async { tokio::signal::ctrl_c().await.unwrap_or(()) }).await?;
    Ok(())
}
