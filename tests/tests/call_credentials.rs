//! OAuth2-style token credentials and JWT access credentials over real calls, each checked by a server
//! interceptor as a service would: tokens are fetched once for concurrent calls, refreshed before they
//! expire (no call ever carries an expired one), a failing token source fails the calls that needed a
//! token with its status, and JWTs signed per service verify with the signer's public key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsgrpc::client::{Channel, Credentials, JwtCredentials, Token, TokenCredentials};
use rsgrpc::interceptor::{auth_fn, bearer_token};
use rsgrpc::server::Server;
use rsgrpc::{Code, Status};
use rsgrpc_tests::echo::{EchoService, Identity};
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::serve;

fn request() -> EchoRequest {
    EchoRequest { message: "hi".into(), ..Default::default() }
}

/// What the token endpoint issued: token -> expiry. The server accepts a token until its expiry.
type Issued = Arc<Mutex<HashMap<String, SystemTime>>>;

#[tokio::test]
async fn oauth_tokens_are_shared_by_concurrent_calls_and_refreshed_before_they_expire() {
    let issued: Issued = Arc::default();
    let server_view = issued.clone();
    let server = Server::builder()
        .interceptor(auth_fn(move |metadata, _method| {
            let verdict = bearer_token(metadata).and_then(|token| match server_view.lock().unwrap().get(token) {
                Some(expiry) if SystemTime::now() < *expiry => Ok(Identity(token.to_owned())),
                Some(_) => Err(Status::unauthenticated(format!("token {token} has expired"))),
                None => Err(Status::unauthenticated(format!("token {token} was never issued"))),
            });
            async move { verdict }
        }))
        .add_service(EchoServer::new(EchoService::default()))
        .build();
    let running = serve(server).await;

    // The token endpoint: slow enough that concurrent calls overlap its answer; fails while `down` is set.
    let fetches = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (endpoint_fetches, endpoint_down, endpoint_issued) = (fetches.clone(), down.clone(), issued.clone());
    let source = move || {
        let (fetches, down, issued) = (endpoint_fetches.clone(), endpoint_down.clone(), endpoint_issued.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if down.load(Ordering::SeqCst) {
                return Err(Status::unavailable("the token endpoint is down"));
            }
            let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
            let token = Token::bearer_for(format!("token-{n}"), Duration::from_millis(1500));
            issued.lock().unwrap().insert(token.access_token.clone(), token.expires_at.unwrap());
            Ok(token)
        }
    };
    let credentials = TokenCredentials::new(source).refresh_before(Duration::from_millis(700));
    let channel = Channel::builder(&running.target())
        .unwrap()
        .credentials(Credentials::new(credentials).allow_insecure())
        .connect()
        .await
        .unwrap();
    let client = EchoClient::new(channel);
    let identity = |response: &rsgrpc::Response<_>| {
        rsgrpc::Response::trailers(response).get("x-identity").map(str::to_owned).unwrap_or_default()
    };

    // Twenty calls at once, no token yet: one fetch, all calls carry its token.
    let calls = (0..20).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.unary(request()).await })
    });
    for call in calls {
        assert_eq!(identity(&call.await.unwrap().unwrap()), "token-1");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "concurrent calls each fetched a token");

    // Inside the refresh window (the token has 700 ms left or less): one call refreshes, and every call
    // from then on carries the new token.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let calls = (0..10).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.unary(request()).await })
    });
    let mut seen = Vec::new();
    for call in calls {
        seen.push(identity(&call.await.unwrap().unwrap()));
    }
    assert!(seen.iter().all(|token| token == "token-1" || token == "token-2"), "{seen:?}");
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "the refresh window made {} fetches", fetches.load(Ordering::SeqCst));
    assert_eq!(identity(&client.unary(request()).await.unwrap()), "token-2");

    // The endpoint goes down: calls go on while token-2 is valid, then fail with the endpoint's status;
    // when it is back, calls get a new token.
    down.store(true, Ordering::SeqCst);
    assert_eq!(identity(&client.unary(request()).await.unwrap()), "token-2");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let error = client.unary(request()).await.unwrap_err();
    assert_eq!(error.code(), Code::Unavailable, "{error:?}");
    assert!(error.message().contains("token endpoint is down"), "{error:?}");
    down.store(false, Ordering::SeqCst);
    assert_eq!(identity(&client.unary(request()).await.unwrap()), "token-3");
}

#[tokio::test]
async fn jwt_access_credentials_verify_with_the_public_key_for_the_service_called() {
    let key = rcgen::KeyPair::generate().unwrap(); // ECDSA P-256
    let public = DecodingKey::from_ec_pem(key.public_key_pem().as_bytes()).unwrap();
    let expected_audience: Arc<Mutex<String>> = Arc::default();
    let audience = expected_audience.clone();
    let server = Server::builder()
        .interceptor(auth_fn(move |metadata, _method| {
            let mut validation = Validation::new(Algorithm::ES256);
            validation.set_audience(&[audience.lock().unwrap().clone()]);
            validation.set_issuer(&["robot@example.iam"]);
            validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
            validation.leeway = 0;
            let verdict = bearer_token(metadata).and_then(|token| {
                let data = jsonwebtoken::decode::<serde_json::Value>(token, &public, &validation)
                    .map_err(|e| Status::unauthenticated(format!("bad JWT: {e}")))?;
                assert_eq!(data.header.kid.as_deref(), Some("key-1"));
                Ok(Identity(format!("{}@{}", data.claims["sub"].as_str().unwrap(), data.claims["iat"])))
            });
            async move { verdict }
        }))
        .add_service(EchoServer::new(EchoService::default()))
        .build();
    let running = serve(server).await;
    *expected_audience.lock().unwrap() = format!("https://{}/rsgrpc.test.echo.Echo", running.addr);

    let pem = key.serialize_pem();
    let credentials = JwtCredentials::ec_pem(pem.as_bytes(), "robot@example.iam")
        .unwrap()
        .key_id("key-1")
        .subject("robot")
        .lifetime(Duration::from_secs(3))
        .refresh_before(Duration::from_millis(1500));
    let channel = Channel::builder(&running.target())
        .unwrap()
        .credentials(Credentials::jwt(credentials).allow_insecure())
        .connect()
        .await
        .unwrap();
    let client = EchoClient::new(channel);
    let identity = |response: rsgrpc::Response<_>| {
        rsgrpc::Response::trailers(&response).get("x-identity").map(str::to_owned).unwrap_or_default()
    };
    let first = identity(client.unary(request()).await.unwrap());
    assert!(first.starts_with("robot@"), "{first}");
    // The same token while it is not due.
    assert_eq!(identity(client.unary(request()).await.unwrap()), first);
    // Due (1.5 s of 3 s left): signed again, with a later iat; never sent expired (the server has no leeway).
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let second = identity(client.unary(request()).await.unwrap());
    assert_ne!(second, first);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(client.unary(request()).await.is_ok());

    // A token for another audience is refused by the server.
    let wrong = JwtCredentials::ec_pem(pem.as_bytes(), "robot@example.iam")
        .unwrap()
        .key_id("key-1")
        .audience("https://elsewhere/x.Y");
    let channel = Channel::builder(&running.target())
        .unwrap()
        .credentials(Credentials::jwt(wrong).allow_insecure())
        .connect()
        .await
        .unwrap();
    let error = EchoClient::new(channel).unary(request()).await.unwrap_err();
    assert_eq!(error.code(), Code::Unauthenticated);
    assert!(error.message().contains("bad JWT"), "{error:?}");
}

/// Token credentials are secrets: refused over plaintext unless allowed, like every credential.
#[tokio::test]
async fn token_credentials_are_not_sent_over_plaintext_by_default() {
    let running = serve(Server::builder().add_service(EchoServer::new(EchoService::default())).build()).await;
    let source = || async { Ok(Token::bearer_for("secret", Duration::from_secs(60))) };
    let channel =
        Channel::builder(&running.target()).unwrap().credentials(Credentials::oauth(source)).connect().await.unwrap();
    let error = EchoClient::new(channel).unary(request()).await.unwrap_err();
    assert_eq!(error.code(), Code::Unauthenticated);
    assert!(error.message().contains("plaintext"), "{error:?}");
}
