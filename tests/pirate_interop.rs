//! Issue 2: pyzmq peers written from the zguide / RFC descriptions
//! (Lazy Pirate client, Simple Pirate worker, Paranoid Pirate worker)
//! exchanging requests with `corsair broker`, all at once, next to
//! corsair's own client and workers.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn pyzmq_lazy_pirate_client_with_simple_and_paranoid_workers() {
    let _bomb = time_bomb("pyzmq_interop", Duration::from_secs(120));
    // -v: the broker logs each worker it registers.
    let mut broker = start_broker(&["--heartbeat", "500ms", "-v"]);
    let mut sp = Proc::spawn("spworker.py", python("spworker.py", &[&broker.backend]));
    let mut pp = Proc::spawn(
        "ppworker.py",
        python("ppworker.py", &[&broker.backend, "0.5"]),
    );
    // Both workers must be there before the clients start, or a busy
    // machine lets one serve every request before the other is up.
    broker
        .proc
        .wait_for_count("worker registered", 2, Duration::from_secs(30));
    let mut clients: Vec<Proc> = (0..3)
        .map(|i| {
            Proc::spawn(
                &format!("lpclient.py #{i}"),
                python("lpclient.py", &[&broker.frontend, "30", "5000", "3"]),
            )
        })
        .collect();
    let rust_client = Proc::spawn(
        "corsair client",
        corsair(&[
            "client",
            "--connect",
            &broker.frontend,
            "--requests",
            "10",
            "hello",
        ]),
    );
    for c in clients.drain(..) {
        let name = c.name.clone();
        let (code, lines) = c.wait(Duration::from_secs(60));
        assert_eq!(code, Some(0), "{name}:\n{}", lines.join("\n"));
        let ok = lines.iter().filter(|l| l.starts_with("ok ")).count();
        assert_eq!(ok, 30, "{name} answers:\n{}", lines.join("\n"));
    }
    let (code, lines) = rust_client.wait(Duration::from_secs(60));
    assert_eq!(code, Some(0));
    assert_eq!(lines.iter().filter(|l| *l == "hello").count(), 10);
    // Both pyzmq workers took part.
    let served = |p: &mut Proc| {
        p.lines_so_far()
            .iter()
            .filter(|l| l.starts_with("served"))
            .count()
    };
    let (by_sp, by_pp) = (served(&mut sp), served(&mut pp));
    assert!(
        by_sp > 0 && by_pp > 0,
        "simple served {by_sp}, paranoid served {by_pp}"
    );
    assert_eq!(by_sp + by_pp, 100, "every request served exactly once");
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 100);
    assert_eq!(stat(&stats, "failed"), 0);
}

#[test]
fn corsair_workers_of_both_dialects_serve_pyzmq_clients() {
    let _bomb = time_bomb("corsair_workers", Duration::from_secs(120));
    let broker = start_broker(&[]);
    let _w1 = Proc::spawn(
        "worker ppp",
        corsair(&["worker", "--connect", &broker.backend, "--dialect", "ppp"]),
    );
    let _w2 = Proc::spawn(
        "worker simple",
        corsair(&[
            "worker",
            "--connect",
            &broker.backend,
            "--dialect",
            "simple",
        ]),
    );
    let client = Proc::spawn(
        "lpclient.py",
        python("lpclient.py", &[&broker.frontend, "50", "5000", "3"]),
    );
    let (code, lines) = client.wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    assert_eq!(lines.iter().filter(|l| l.starts_with("ok ")).count(), 50);
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 50);
}
