//! A loopback TCP relay that adds a fixed one-way delay in each direction.
//!
//! On loopback a request costs only the local stack's own work, and the local stack answers
//! one request at a time, so a batch of ten messages takes about ten times one message no
//! matter how concurrently the function issues its requests. In AWS most of a DynamoDB
//! request is round trip, which concurrent requests overlap. Putting the round trip back
//! shows whether the function really does overlap them.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Starts the relay in front of `upstream`; returns the address to connect to instead.
pub async fn start(upstream: SocketAddr, one_way: Duration) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::join!(
                    delayed_pipe(client_read, server_write, one_way),
                    delayed_pipe(server_read, client_write, one_way),
                );
            });
        }
    });
    Ok(address)
}

/// Copies `from` to `to`, each chunk leaving `delay` after it arrived. Reading runs ahead of
/// writing, so back-to-back chunks are delayed once each, not cumulatively, as on a link.
async fn delayed_pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (sender, mut receiver) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(read) = from.read(&mut buffer).await {
            if read == 0
                || sender
                    .send((Instant::now() + delay, buffer[..read].to_vec()))
                    .is_err()
            {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = receiver.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
