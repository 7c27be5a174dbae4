//! A restarted server binds its address at once, even while connections of
//! the process that held it before linger in TIME-WAIT.

use glommio::LocalExecutorBuilder;
use runtime::live::server::listen;
use std::io::Read;
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::time::Duration;

/// An address whose server side holds a connection in TIME-WAIT: a
/// listener with SO_REUSEADDR but not SO_REUSEPORT (as Go's and Rust's
/// standard listeners are) accepts a connection and closes it first, then
/// goes away, as the original's server does when it stops.
fn address_with_time_wait() -> SocketAddr {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(8).unwrap();
    let listener: StdListener = socket.into();
    let address = listener.local_addr().unwrap();
    let mut client = TcpStream::connect(address).unwrap();
    let (served, _) = listener.accept().unwrap();
    drop(served); // the server closes first: its side goes to TIME-WAIT
    let mut rest = Vec::new();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = client.read_to_end(&mut rest);
    drop(client);
    drop(listener);
    address
}

#[test]
fn a_restarted_server_binds_through_time_wait() {
    let address = address_with_time_wait();
    let (glommios, ours) = LocalExecutorBuilder::default()
        .spawn(move || async move {
            let glommios = glommio::net::TcpListener::bind(address).map(|_| ());
            (glommios, listen(address).map(|l| l.local_addr().ok()))
        })
        .unwrap()
        .join()
        .unwrap();
    // The situation is real: glommio's own bind (SO_REUSEPORT only) fails here.
    assert!(
        glommios.is_err(),
        "the TIME-WAIT connection did not block glommio's bind; the test no longer shows the problem"
    );
    assert_eq!(ours.expect("binds despite TIME-WAIT"), Some(address));
}
