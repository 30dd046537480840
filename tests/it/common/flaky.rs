//! A raw HTTP/1.1 destination that misbehaves on purpose. For each request it answers a status, closes the
//! connection without answering (after reading the whole request), or holds the request until the client
//! gives up, as the test decides from the request's path and `Upstash-Retried`: a run does the same every
//! time, whatever order concurrent deliveries arrive in. Every decision is recorded.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Status(u16),
    /// Reads the request, then closes the connection without a word.
    Close,
    /// Reads the request and never answers: the client's timeout ends it.
    Hold,
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub retried: u32,
    pub act: Act,
}

type Decide = Arc<dyn Fn(&str, u32) -> Act + Send + Sync>;

pub struct FlakyReceiver {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FlakyReceiver {
    pub async fn start(decide: impl Fn(&str, u32) -> Act + Send + Sync + 'static) -> FlakyReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let decide: Decide = Arc::new(decide);
        let recorded = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, decide.clone(), recorded.clone()));
            }
        });
        FlakyReceiver { url, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Serves the requests of one kept-alive connection until the client closes it or an act ends it.
async fn serve(stream: TcpStream, decide: Decide, seen: Arc<Mutex<Vec<Seen>>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
        let (mut length, mut retried) = (0usize, 0u32);
        loop {
            line.clear();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "upstash-retried" => retried = value.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let act = decide(&path, retried);
        seen.lock().unwrap().push(Seen { path, retried, act });
        match act {
            Act::Status(status) => {
                let head = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                reader.get_mut().write_all(head.as_bytes()).await?;
            }
            Act::Close => return Ok(()),
            Act::Hold => {
                let mut rest = [0u8; 256];
                while reader.read(&mut rest).await? > 0 {}
                return Ok(());
            }
        }
    }
}
