//! An implementation of the file test service (testdata/gateway/protos/rsgrpc/test/files), whose messages
//! are `google.api.HttpBody`: the gateway's HttpBody tests download, stream and upload through it, in
//! process and behind a gRPC server.

use rsgrpc::server::BoxStream;
use rsgrpc::{Request, Response, Status};

use crate::gateway_gen::google::api::HttpBody;
use crate::gateway_gen::rsgrpc::test::files::files_server::Files;
use crate::gateway_gen::rsgrpc::test::files::*;

/// The test files: `report.csv` is some CSV, `logo.png` a few binary bytes; any other name is missing.
#[derive(Debug, Default, Clone)]
pub struct TestFiles;

/// A file's bytes and content type.
pub fn file(name: &str) -> Option<(&'static str, Vec<u8>)> {
    match name {
        "report.csv" => Some(("text/csv; charset=utf-8", b"id,title\n1,Dune\n2,Emma\n".to_vec())),
        "logo.png" => Some(("image/png", vec![0x89, b'P', b'N', b'G', 0, 0xff, 0xfe, b'\r', b'\n'])),
        _ => None,
    }
}

fn summary(name: String, body: &HttpBody, note: String) -> UploadSummary {
    UploadSummary {
        name,
        content_type: body.content_type.clone(),
        size: body.data.len() as i64,
        note,
        head: String::from_utf8_lossy(&body.data[..body.data.len().min(16)]).into_owned(),
        ..Default::default()
    }
}

impl Files for TestFiles {
    async fn download(&self, request: Request<DownloadRequest>) -> Result<Response<HttpBody>, Status> {
        let name = request.into_inner().name;
        let (content_type, data) = file(&name).ok_or_else(|| Status::not_found(format!("no file {name}")))?;
        let mut response = Response::new(HttpBody { content_type: content_type.into(), data, ..Default::default() });
        response.metadata_mut().insert("x-file", &name).expect("valid metadata");
        Ok(response)
    }

    async fn download_chunks(
        &self,
        request: Request<DownloadRequest>,
    ) -> Result<Response<BoxStream<HttpBody>>, Status> {
        let request = request.into_inner();
        let (content_type, _) =
            file(&request.name).ok_or_else(|| Status::not_found(format!("no file {}", request.name)))?;
        let chunks = (0..request.chunks).map(move |i| {
            if request.fail_after > 0 && i >= request.fail_after {
                return Err(Status::unavailable("the disk went away"));
            }
            // Only the first message's content type counts.
            let content_type = if i == 0 { content_type.to_owned() } else { "text/ignored".to_owned() };
            Ok(HttpBody { content_type, data: format!("chunk {i}\n").into_bytes(), ..Default::default() })
        });
        let stream = futures_util::StreamExt::then(futures_util::stream::iter(chunks), |chunk| async move {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            chunk
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn upload_raw(&self, request: Request<HttpBody>) -> Result<Response<UploadSummary>, Status> {
        let body = request.into_inner();
        Ok(Response::new(summary(String::new(), &body, String::new())))
    }

    async fn upload(&self, request: Request<UploadRequest>) -> Result<Response<UploadSummary>, Status> {
        let request = request.into_inner();
        let body = request.file.unwrap_or_default();
        Ok(Response::new(summary(request.name, &body, request.note)))
    }

    async fn echo(&self, request: Request<HttpBody>) -> Result<Response<HttpBody>, Status> {
        let mut body = request.into_inner();
        body.data.reverse();
        Ok(Response::new(body))
    }
}
