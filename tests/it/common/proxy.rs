//! A TCP relay on loopback between the app and Postgres that a test can cut and restore, to take the
//! database away from the app (as a stopped or unreachable server would) while the test still reaches it
//! directly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

pub struct Proxy {
    pub port: u16,
    down: Arc<AtomicBool>,
    relays: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Relays every connection to `upstream` ("host:port") until cut.
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let relays = Arc::new(Mutex::new(JoinSet::new()));
        let accept = tokio::spawn({
            let (down, relays) = (down.clone(), relays.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if down.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let upstream = upstream.clone();
                    relays.lock().await.spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        });
        Proxy {
            port,
            down,
            relays,
            accept,
        }
    }

    /// Drops every relayed connection and refuses new ones (they are accepted and closed at once).
    pub async fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.relays.lock().await.abort_all();
    }

    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
