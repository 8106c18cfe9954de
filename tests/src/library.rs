//! An implementation of the gateway test service (testdata/gateway/protos), used in process and behind a
//! gRPC server by the gateway's end-to-end tests: it echoes what it received so tests can check how HTTP
//! requests became messages and metadata.

use std::time::Duration;

use rsgrpc::server::BoxStream;
use rsgrpc::{Code, Request, Response, Status, Streaming};

use crate::gateway_gen::rsgrpc::test::gateway::library_server::Library;
use crate::gateway_gen::rsgrpc::test::gateway::*;
use crate::gen::rsgrpc::test::common::Money;
use crate::rt::well_known::Empty;

/// The test library.
#[derive(Debug, Default, Clone)]
pub struct TestLibrary;

/// How each chat call whose metadata has an `x-call-id` ended: "completed" when its response stream ran
/// to its end, "cancelled" when it was dropped before (the client went away, the call was reset).
static CHAT_ENDINGS: std::sync::Mutex<std::collections::BTreeMap<String, &'static str>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// How the chat call `id` ended, once it has.
pub fn chat_ending(id: &str) -> Option<&'static str> {
    CHAT_ENDINGS.lock().unwrap_or_else(|e| e.into_inner()).get(id).copied()
}

/// Records a chat call's ending when its response stream is dropped.
struct ChatEnding {
    id: Option<String>,
    completed: bool,
}

impl ChatEnding {
    fn complete(&mut self) {
        self.completed = true;
    }
}

impl Drop for ChatEnding {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let ending = if self.completed { "completed" } else { "cancelled" };
            CHAT_ENDINGS.lock().unwrap_or_else(|e| e.into_inner()).insert(id, ending);
        }
    }
}

/// Copies the metadata tests send into response header metadata (`x-seen-<key>`) and a trailer.
fn echo_metadata<T>(metadata: &rsgrpc::MetadataMap, mut response: Response<T>) -> Response<T> {
    for key in ["authorization", "tenant", "grpcgateway-user-agent", "x-forwarded-for", "custom"] {
        if let Some(value) = metadata.get(key) {
            response.metadata_mut().insert(&format!("x-seen-{key}"), value).expect("valid metadata");
        }
    }
    if let Some(Ok(bytes)) = metadata.get_bin("trace-bin") {
        response.metadata_mut().insert_bin("x-seen-trace-bin", &bytes).expect("valid metadata");
    }
    response.trailers_mut().insert("x-served-by", "library").expect("valid metadata");
    response
}

fn book(name: &str, title: &str) -> Book {
    Book { name: name.to_owned(), title: title.to_owned(), ..Default::default() }
}

impl Library for TestLibrary {
    async fn get_shelf(&self, request: Request<GetShelfRequest>) -> Result<Response<Shelf>, Status> {
        let id = request.get_ref().shelf_id.clone();
        if id == "missing" {
            return Err(Status::not_found(format!("no shelf {id}")));
        }
        let shelf = Shelf { theme: format!("theme of {id}"), id, ..Default::default() };
        let mut response = echo_metadata(request.metadata(), Response::new(shelf));
        // The leaf certificate of a mutual-TLS client, for the gateway's mTLS test.
        if let Some(leaf) = request.peer_certificates().and_then(|chain| chain.first()) {
            response.metadata_mut().insert_bin("x-client-certificate-bin", leaf).expect("valid metadata");
        }
        Ok(response)
    }

    async fn get_book(&self, request: Request<GetBookRequest>) -> Result<Response<Book>, Status> {
        let deadline = request.deadline();
        let name = request.into_inner().name;
        if name.ends_with("/slow") {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        if name.ends_with("/panic") {
            panic!("the book {name} exploded");
        }
        if let (true, Some(deadline)) = (name.ends_with("/late"), deadline) {
            // Answers just as the deadline passes: waits until just before it, then blocks past it, so the
            // answer is ready in the same poll in which the deadline has passed.
            tokio::time::sleep_until((deadline - Duration::from_millis(30)).into()).await;
            std::thread::sleep(
                deadline.saturating_duration_since(std::time::Instant::now()) + Duration::from_millis(20),
            );
        }
        Ok(Response::new(book(&name, &format!("title of {name}"))))
    }

    async fn list_books(&self, request: Request<ListBooksRequest>) -> Result<Response<ListBooksResponse>, Status> {
        Ok(Response::new(ListBooksResponse { request: Some(request.into_inner()), ..Default::default() }))
    }

    async fn create_book(&self, request: Request<CreateBookRequest>) -> Result<Response<Book>, Status> {
        let request = request.into_inner();
        let mut created = request.book.unwrap_or_default();
        let id = if request.request_id.is_empty() { "1".to_owned() } else { request.request_id };
        created.name = format!("shelves/{}/books/{id}", request.shelf_id);
        Ok(Response::new(created))
    }

    async fn update_book(&self, request: Request<UpdateBookRequest>) -> Result<Response<Book>, Status> {
        let request = request.into_inner();
        let mut updated = request.book.unwrap_or_default();
        updated.author = request.update_mask.map(|mask| mask.paths.join("+")).unwrap_or_default();
        Ok(Response::new(updated))
    }

    async fn put_shelf(&self, request: Request<Shelf>) -> Result<Response<Shelf>, Status> {
        Ok(Response::new(request.into_inner()))
    }

    async fn delete_book(&self, request: Request<DeleteBookRequest>) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        if request.name.ends_with("/locked") && !request.force {
            return Err(Status::failed_precondition("the book is locked; force=true deletes it"));
        }
        Ok(Response::new(Empty::default()))
    }

    async fn archive_book(&self, request: Request<ArchiveBookRequest>) -> Result<Response<Book>, Status> {
        let request = request.into_inner();
        Ok(Response::new(book(&request.name, &format!("archived: {}", request.reason))))
    }

    async fn search(&self, request: Request<SearchRequest>) -> Result<Response<SearchResponse>, Status> {
        let query = request.into_inner().query;
        Ok(Response::new(SearchResponse { books: vec![book("shelves/s/books/found", &query)], ..Default::default() }))
    }

    async fn get_book_title(&self, request: Request<GetBookRequest>) -> Result<Response<BookTitle>, Status> {
        let name = request.into_inner().name;
        let title = if name.ends_with("/untitled") { String::new() } else { format!("title of {name}") };
        Ok(Response::new(BookTitle { title, subtitle: "unseen".into(), ..Default::default() }))
    }

    async fn watch_shelf(&self, request: Request<WatchShelfRequest>) -> Result<Response<BoxStream<Book>>, Status> {
        let request = request.into_inner();
        if request.shelf_id == "missing" {
            return Err(Status::not_found("no such shelf"));
        }
        let items = (0..request.count).map(move |i| (i, request.clone()));
        let stream = futures_util::stream::unfold(items, |mut items| async move {
            let (i, request) = items.next()?;
            if request.interval_ms > 0 {
                tokio::time::sleep(Duration::from_millis(request.interval_ms as u64)).await;
            }
            if request.shelf_id == "panic" && i > 0 {
                panic!("shelf panic fell over");
            }
            // fail_after < 0: fail before the first book.
            if request.fail_after < 0 || (request.fail_after > 0 && i >= request.fail_after) {
                return Some((Err(Status::unavailable(format!("shelf {} went away", request.shelf_id))), items));
            }
            Some((Ok(book(&format!("shelves/{}/books/{i}", request.shelf_id), &format!("book {i}"))), items))
        });
        let stream = futures_util::StreamExt::take_while(stream, {
            let mut failed = false;
            move |item| {
                let go_on = !failed;
                failed |= item.is_err();
                std::future::ready(go_on)
            }
        });
        let mut response = Response::new(Box::pin(stream) as BoxStream<Book>);
        response.metadata_mut().insert("x-watch", "started").expect("valid metadata");
        Ok(response)
    }

    async fn import_books(&self, request: Request<Streaming<Book>>) -> Result<Response<ImportSummary>, Status> {
        let mut books = request.into_inner();
        let mut summary = ImportSummary::default();
        while let Some(book) = books.message().await? {
            summary.count += 1;
            summary.titles.push(book.title);
        }
        Ok(Response::new(summary))
    }

    async fn chat(&self, request: Request<Streaming<ChatMessage>>) -> Result<Response<BoxStream<ChatMessage>>, Status> {
        let ending = ChatEnding { id: request.metadata().get("x-call-id").map(str::to_owned), completed: false };
        let messages = request.into_inner();
        let stream = futures_util::StreamExt::map(messages, |message| {
            message.map(|m| ChatMessage { text: m.text.to_uppercase(), ..Default::default() })
        });
        // The stream ends (and says so) when the input does; dropped before that, the call was cancelled.
        let stream = futures_util::stream::unfold((Box::pin(stream), ending), |(mut stream, mut ending)| async move {
            match futures_util::StreamExt::next(&mut stream).await {
                Some(item) => Some((item, (stream, ending))),
                None => {
                    ending.complete();
                    None
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn fail(&self, request: Request<FailRequest>) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let code = Code::from_i32(request.code);
        let mut status = if code == Code::InvalidArgument {
            let detail = Money { currency: "EUR".into(), units: 7, ..Default::default() };
            Status::with_error_details(
                code,
                request.message,
                [rsgrpc::well_known::Any::from_msg(&detail).expect("encodes")],
            )
        } else {
            Status::new(code, request.message)
        };
        status.metadata_mut().insert("x-failure", "yes").expect("valid metadata");
        Err(status)
    }
}
