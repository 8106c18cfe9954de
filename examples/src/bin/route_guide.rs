//! The route guide: all four kinds of call (unary, server streaming, client streaming, bidirectional).
//! `cargo run -p rsgrpc-examples --bin route_guide`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rsgrpc::server::{BoxStream, Server};
use rsgrpc::{Request, Response, Status, Streaming};
use rsgrpc_examples::pb::routeguide::route_guide_client::RouteGuideClient;
use rsgrpc_examples::pb::routeguide::route_guide_server::{RouteGuide, RouteGuideServer};
use rsgrpc_examples::pb::routeguide::{Feature, Point, Rectangle, RouteNote, RouteSummary};
use tokio_stream::wrappers::ReceiverStream;

/// The notes left so far, by point.
type Notes = Arc<Mutex<HashMap<(i32, i32), Vec<RouteNote>>>>;

struct Guide {
    features: Vec<Feature>,
    notes: Notes,
}

fn point(latitude: i32, longitude: i32) -> Point {
    Point { latitude, longitude, ..Default::default() }
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
        let found: Vec<Result<Feature, Status>> = self
            .features
            .iter()
            .filter(|f| f.location.as_ref().is_some_and(|p| inside(&rectangle, p)))
            .map(|f| Ok(f.clone()))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(found))))
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
        // Each note is answered as it arrives, while the client may still be sending: a task reads, a
        // channel carries the answers to the response stream.
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                let note = match incoming.message().await {
                    Ok(Some(note)) => note,
                    Ok(None) => return,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                let at = note.location.as_ref().map_or((0, 0), |p| (p.latitude, p.longitude));
                let earlier: Vec<RouteNote> = {
                    let mut notes = notes.lock().unwrap_or_else(|e| e.into_inner());
                    let here = notes.entry(at).or_default();
                    let earlier = here.clone();
                    here.push(note);
                    earlier
                };
                for note in earlier {
                    if sender.send(Ok(note)).await.is_err() {
                        return; // the client went away
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let features = [
        ("Patriots Path, Mendham, NJ 07945, USA", 407_838_351, -746_143_763),
        ("101 New Jersey 10, Whippany, NJ 07981, USA", 408_122_808, -743_999_179),
        ("U.S. 6, Shohola, PA 18458, USA", 413_628_156, -749_015_468),
    ]
    .map(|(name, lat, lon)| Feature { name: name.into(), location: Some(point(lat, lon)), ..Default::default() })
    .to_vec();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server =
        Server::builder().add_service(RouteGuideServer::new(Guide { features, notes: Arc::default() })).build();
    tokio::spawn(server.serve_with_shutdown(listener, std::future::pending()));

    let client = RouteGuideClient::connect(&format!("http://{addr}")).await?;

    // Unary.
    let feature = client.get_feature(point(408_122_808, -743_999_179)).await?.into_inner();
    println!("GetFeature: {}", feature.name);

    // Server streaming: read until the server ends the stream.
    let rectangle = Rectangle {
        lo: Some(point(400_000_000, -750_000_000)),
        hi: Some(point(410_000_000, -740_000_000)),
        ..Default::default()
    };
    let mut features = client.list_features(rectangle).await?.into_inner();
    while let Some(feature) = features.message().await? {
        println!("ListFeatures: {}", feature.name);
    }

    // Client streaming: any Stream of messages.
    let route = [point(407_838_351, -746_143_763), point(408_122_808, -743_999_179), point(413_628_156, -749_015_468)];
    let summary = client.record_route(tokio_stream::iter(route)).await?.into_inner();
    println!(
        "RecordRoute: {} points, {} features, {} km",
        summary.point_count,
        summary.feature_count,
        summary.distance / 1000
    );

    // Bidirectional: send and receive at once; close the sending half to end the call.
    let (mut sender, mut replies) = client.route_chat(()).await?;
    for (i, text) in ["first", "second", "third", "fourth"].iter().enumerate() {
        let location = Some(point(0, (i % 2) as i32));
        sender.send(RouteNote { location, message: text.to_string(), ..Default::default() }).await?;
    }
    sender.close();
    while let Some(note) = replies.message().await? {
        println!("RouteChat: earlier note {:?}", note.message);
    }
    Ok(())
}
