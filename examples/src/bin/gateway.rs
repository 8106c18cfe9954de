//! A REST/JSON gateway from `google.api.http` rules (as grpc-gateway), beside the gRPC server of the same
//! service: one implementation, both protocols. `cargo run -p rsgrpc-examples --bin gateway`
//!
//! build.rs turns the gateway on (`rsgrpc_build::configure().gateway(true)`); `bookstore_gateway::routes`
//! calls the implementation in this process, `proxy_routes(channel)` would call a gRPC server instead.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rsgrpc::gateway::Gateway;
use rsgrpc::server::Server;
use rsgrpc::{Request, Response, Status};
use rsgrpc_examples::pb::bookstore::bookstore_client::BookstoreClient;
use rsgrpc_examples::pb::bookstore::bookstore_gateway;
use rsgrpc_examples::pb::bookstore::bookstore_server::{Bookstore, BookstoreServer};
use rsgrpc_examples::pb::bookstore::{Book, CreateBookRequest, GetBookRequest, ListBooksRequest, ListBooksResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Books by (shelf, id).
#[derive(Default)]
struct Store(Mutex<BTreeMap<(String, i64), Book>>);

impl Bookstore for Store {
    async fn get_book(&self, request: Request<GetBookRequest>) -> Result<Response<Book>, Status> {
        let GetBookRequest { shelf, id, .. } = request.into_inner();
        let books = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let book = books.get(&(shelf.clone(), id)).cloned();
        book.map(Response::new).ok_or_else(|| Status::not_found(format!("no book {id} on shelf {shelf}")))
    }

    async fn create_book(&self, request: Request<CreateBookRequest>) -> Result<Response<Book>, Status> {
        let CreateBookRequest { shelf, book, .. } = request.into_inner();
        let mut book = book.ok_or_else(|| Status::invalid_argument("a book is required"))?;
        let mut books = self.0.lock().unwrap_or_else(|e| e.into_inner());
        book.id = books.keys().filter(|(s, _)| *s == shelf).count() as i64 + 1;
        books.insert((shelf, book.id), book.clone());
        Ok(Response::new(book))
    }

    async fn list_books(&self, request: Request<ListBooksRequest>) -> Result<Response<ListBooksResponse>, Status> {
        let ListBooksRequest { shelf, author, .. } = request.into_inner();
        let books = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let books = books
            .iter()
            .filter(|((s, _), book)| *s == shelf && (author.is_empty() || book.author == author))
            .map(|(_, book)| book.clone())
            .collect();
        Ok(Response::new(ListBooksResponse { books, ..Default::default() }))
    }
}

/// One HTTP/1.0 request over a plain socket (1.0, so the body is not chunked), to show the exact exchange:
/// (status line, body).
async fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> std::io::Result<(String, String)> {
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    socket.read_to_string(&mut response).await?;
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_owned();
    Ok((status, body))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(Store::default());

    // gRPC, on its own port.
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let grpc_addr = grpc.local_addr()?;
    let server = Server::builder().add_service(BookstoreServer::from_arc(store.clone())).build();
    tokio::spawn(server.serve_with_shutdown(grpc, std::future::pending()));

    // REST/JSON, answered by the same store.
    let rest = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let rest_addr = rest.local_addr()?;
    let gateway = Gateway::builder().routes(bookstore_gateway::routes(store)).build()?;
    tokio::spawn(gateway.serve_with_shutdown(rest, std::future::pending()));

    let (status, body) =
        http(rest_addr, "POST", "/v1/shelves/sf/books", r#"{"title":"Dune","author":"Herbert"}"#).await?;
    println!("POST /v1/shelves/sf/books -> {status} {body}");
    let (status, body) = http(rest_addr, "GET", "/v1/shelves/sf/books?author=Herbert", "").await?;
    println!("GET /v1/shelves/sf/books?author=Herbert -> {status} {body}");
    let (status, body) = http(rest_addr, "GET", "/v1/shelves/sf/books/7", "").await?;
    println!("GET /v1/shelves/sf/books/7 -> {status} {body}");

    // The book created over REST, read over gRPC.
    let client = BookstoreClient::connect(&format!("http://{grpc_addr}")).await?;
    let book = client.get_book(GetBookRequest { shelf: "sf".into(), id: 1, ..Default::default() }).await?.into_inner();
    println!("gRPC GetBook(sf, 1) -> {:?} by {}", book.title, book.author);
    Ok(())
}
