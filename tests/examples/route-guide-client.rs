//! The route guide client, all four kinds of call: `cargo run -p rsgrpc-tests --example route-guide-client`.

use rsgrpc_tests::gen::routeguide::route_guide_client::RouteGuideClient;
use rsgrpc_tests::gen::routeguide::{Point, Rectangle, RouteNote};

fn point(latitude: i32, longitude: i32) -> Point {
    Point { latitude, longitude, ..Default::default() }
}

/// A stream over a vector, for the client-streaming call.
struct Points(std::vec::IntoIter<Point>);

impl rsgrpc::Stream for Points {
    type Item = Point;
    fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<Point>> {
        std::task::Poll::Ready(self.0.next())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:10000".to_owned());
    let client = RouteGuideClient::connect(&target).await?;

    let feature = client.get_feature(point(409_146_138, -746_188_906)).await?.into_inner();
    println!("GetFeature: {:?} at {:?}", feature.name, feature.location);

    let rectangle = Rectangle {
        lo: Some(point(400_000_000, -750_000_000)),
        hi: Some(point(420_000_000, -730_000_000)),
        ..Default::default()
    };
    let mut features = client.list_features(rectangle).await?.into_inner();
    while let Some(feature) = features.message().await? {
        println!("ListFeatures: {:?}", feature.name);
    }

    let route =
        vec![point(407_838_351, -746_143_763), point(408_122_808, -743_999_179), point(413_628_156, -749_015_468)];
    let summary = client.record_route(Points(route.into_iter())).await?.into_inner();
    println!("RecordRoute: {} points, {} features, {} m", summary.point_count, summary.feature_count, summary.distance);

    let (mut sender, mut replies) = client.route_chat(()).await?;
    for (i, text) in ["first", "second", "third", "fourth"].iter().enumerate() {
        let location = Some(point(0, (i % 2) as i32));
        sender.send(RouteNote { location, message: text.to_string(), ..Default::default() }).await?;
    }
    sender.close();
    while let Some(note) = replies.message().await? {
        println!("RouteChat: got {:?} at {:?}", note.message, note.location);
    }
    Ok(())
}
