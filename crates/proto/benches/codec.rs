//! Decode and encode for every dialect: `cargo bench -p corsair-proto`.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use bytes::Bytes;
use corsair_proto::mdp::{ClientCommand, ClientMessage, MdpVersion, WorkerCommand};
use corsair_proto::pirate::{FromWorker, PirateDialect, ToWorker};
use corsair_proto::{Bare, ClientDialect, Enveloped, Inbound, ReturnPath, WorkerDialect};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn payload() -> Bytes {
    Bytes::from(vec![b'x'; 64])
}

fn id() -> Bytes {
    Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 42])
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    let inputs: Vec<(&str, Vec<Bytes>, Bare)> = vec![
        ("plain request", vec![Bytes::new(), payload()], Bare::Client),
        (
            "mdp01 request",
            vec![
                Bytes::new(),
                Bytes::from_static(b"MDPC01"),
                Bytes::from_static(b"echo"),
                payload(),
            ],
            Bare::Client,
        ),
        (
            "mdp02 request",
            vec![
                Bytes::from_static(b"MDPC02"),
                Bytes::from_static(&[1]),
                Bytes::from_static(b"echo"),
                payload(),
            ],
            Bare::Client,
        ),
        (
            "ppp reply",
            vec![id(), Bytes::new(), payload()],
            Bare::Worker,
        ),
        (
            "simple pirate reply",
            vec![Bytes::new(), id(), Bytes::new(), payload()],
            Bare::Worker,
        ),
        (
            "mdp01 reply",
            WorkerCommand::Final(Enveloped {
                envelope: vec![id()],
                body: vec![payload()],
            })
            .encode(MdpVersion::V01),
            Bare::Worker,
        ),
        (
            "mdp02 final",
            WorkerCommand::Final(Enveloped {
                envelope: vec![id()],
                body: vec![payload()],
            })
            .encode(MdpVersion::V02),
            Bare::Worker,
        ),
        (
            "ppp heartbeat",
            vec![Bytes::from_static(&[2])],
            Bare::Worker,
        ),
        (
            "fetch ask",
            vec![Bytes::new(), Bytes::from_static(b"ready")],
            Bare::Fetch,
        ),
    ];
    for (name, frames, bare) in inputs {
        g.bench_function(name, |b| {
            b.iter(|| Inbound::decode(black_box(frames.clone()), bare))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("encode");
    for (name, dialect) in [
        (
            "request to ppp",
            WorkerDialect::Pirate(PirateDialect::Paranoid),
        ),
        (
            "request to simple pirate",
            WorkerDialect::Pirate(PirateDialect::Simple),
        ),
        ("request to mdp01", WorkerDialect::Mdp(MdpVersion::V01)),
        ("request to mdp02", WorkerDialect::Mdp(MdpVersion::V02)),
        ("task to fetch", WorkerDialect::Fetch),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(dialect).request(id(), vec![payload()]))
        });
    }
    for (name, dialect) in [
        ("reply to plain", ClientDialect::Plain),
        ("reply to mdp01", ClientDialect::Mdp(MdpVersion::V01)),
        ("reply to mdp02", ClientDialect::Mdp(MdpVersion::V02)),
    ] {
        let path = ReturnPath {
            dialect,
            envelope: vec![],
            delimited: dialect != ClientDialect::Mdp(MdpVersion::V02),
        };
        let service = Bytes::from_static(b"echo");
        g.bench_function(name, |b| {
            b.iter(|| path.reply(&service, vec![payload()], true))
        });
    }
    g.bench_function("ppp heartbeat", |b| {
        b.iter(|| FromWorker::Heartbeat.encode())
    });
    g.bench_function("mdp02 client request", |b| {
        b.iter(|| {
            ClientMessage {
                command: ClientCommand::Request,
                service: Bytes::from_static(b"echo"),
                body: vec![payload()],
            }
            .encode(MdpVersion::V02)
        })
    });
    g.bench_function("ppp worker decode request", |b| {
        let frames = vec![id(), Bytes::new(), payload()];
        b.iter(|| ToWorker::decode(black_box(frames.clone())))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
