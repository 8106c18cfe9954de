//! Compression chosen message by message: the interop spec's `server_compressed_streaming` asks for the
//! first response compressed and the second not, on one compressed call. A raw h2 client reads the flag
//! byte of each message, which a gRPC client hides.

use bytes::{Buf, Bytes, BytesMut};
use rsgrpc_tests::interop::server::interop_server;
use rsgrpc_tests::interop_gen::grpc::testing::{BoolValue, ResponseParameters, StreamingOutputCallRequest};
use rsgrpc_tests::support::serve;

#[tokio::test]
async fn a_compressed_stream_can_send_one_message_plain() {
    let server = serve(interop_server()).await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{}/grpc.testing.TestService/StreamingOutputCall", server.addr))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-accept-encoding", "gzip")
        .body(())
        .unwrap();
    let compressed = |value| ResponseParameters {
        size: 31_415,
        compressed: Some(BoolValue { value, ..Default::default() }),
        ..Default::default()
    };
    let message = StreamingOutputCallRequest {
        response_parameters: vec![compressed(true), compressed(false), compressed(true)],
        ..Default::default()
    };
    let (response, mut send) = client.send_request(request, false).unwrap();
    send.send_data(rsgrpc::codec::encode(&message, usize::MAX).unwrap(), true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.headers().get("grpc-encoding").map(|v| v.as_bytes()), Some(&b"gzip"[..]));
    let mut body = response.into_body();
    let mut received = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk: Bytes = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        received.extend_from_slice(&chunk);
    }
    let mut flags = Vec::new();
    while received.len() >= 5 {
        flags.push(received[0]);
        let len = u32::from_be_bytes([received[1], received[2], received[3], received[4]]) as usize;
        received.advance(5 + len);
    }
    assert_eq!(flags, [1, 0, 1], "each message flagged as its request asked");
    let trailers = body.trailers().await.unwrap().expect("trailers");
    assert_eq!(trailers.get("grpc-status").map(|v| v.as_bytes()), Some(&b"0"[..]));
}
