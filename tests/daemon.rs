//! Issue 6: the daemon framework, through `examples/my_zmq.rs` run as
//! processes (one supervisor, a server, four workers) and in process.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(60);

fn my_zmq(args: &[&str]) -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let mut cmd = Command::new(dir.join("my_zmq"));
    cmd.args(args);
    cmd
}

/// Writes an INI file with ipc endpoints in a fresh directory, the
/// server's period at `period`, plus `extra` lines at the end (in the
/// `[MyWorker.job]` section); returns the directory (removed when
/// dropped) and the file's path.
fn ini(tag: &str, period: &str, extra: &str) -> (Scratch, PathBuf) {
    let dir = Scratch::new(&format!("daemon-{tag}"));
    let ep = |n: &str| dir.ipc(n);
    let text = format!(
        "[app]\ntitle = my\nworkers = 4\n\n[MyServer]\nperiod = {period}\nexit_delay = 100ms\n\n\
         [MyServer.job]\nendpoint = {job}\n[MyServer.broadcast]\nendpoint = {bc}\n\
         [MyWorker.broadcast]\nendpoint = {bc}\n[MyWorker.job]\nendpoint = {job}\n{extra}\n",
        job = ep("job"),
        bc = ep("broadcast"),
    );
    let path = dir.join("my_zmq.ini");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Lines of the given title, with the title and padding removed.
fn of<'a>(lines: &'a [String], title: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(title))
        .map(str::trim_start)
        .collect()
}

const WORKERS: [&str; 4] = [
    "(my:worker:1)",
    "(my:worker:2)",
    "(my:worker:3)",
    "(my:worker:4)",
];

#[test]
fn my_zmq_runs_to_the_end_with_every_job_once_and_every_broadcast_everywhere() {
    let _bomb = time_bomb("my_zmq", LONG);
    let (_dir, path) = ini("run", "200ms", "");
    let (code, lines) = Proc::spawn("my_zmq", my_zmq(&["-c", path.to_str().unwrap()])).wait(LONG);
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    let all = lines.join("\n");
    let server = of(&lines, "(my:server)");
    assert_eq!(
        server.first(),
        Some(&"MyServer has begun processing messages"),
        "{all}"
    );
    assert_eq!(server.last(), Some(&"MyServer is terminating"), "{all}");
    assert!(server.contains(&"Broadcasting: EXIT"), "{all}");
    for w in WORKERS {
        let mine = of(&lines, w);
        assert_eq!(
            mine.first(),
            Some(&"MyWorker has begun processing messages"),
            "{w}: {all}"
        );
        assert_eq!(mine.last(), Some(&"MyWorker is terminating"), "{w}: {all}");
        for b in ["This is message #2", "This is message #4", "EXIT"] {
            let line = format!("Received broadcast: ['{b}']");
            assert_eq!(
                mine.iter().filter(|l| **l == line).count(),
                1,
                "{w} {b}: {all}"
            );
        }
    }
    for job in [
        "This is message #1",
        "This is message #3",
        "This is message #5",
    ] {
        let line = format!("Received job: ['{job}']");
        let receivers = WORKERS
            .iter()
            .filter(|w| of(&lines, w).contains(&line.as_str()))
            .count();
        let total = lines.iter().filter(|l| l.ends_with(&line)).count();
        assert_eq!((receivers, total), (1, 1), "{job}: {all}");
    }
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.ends_with("has begun processing messages"))
            .count(),
        5
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.ends_with("is terminating"))
            .count(),
        5
    );
}

#[test]
fn a_channel_can_name_another_handler() {
    let _bomb = time_bomb("override", LONG);
    // Jobs go to the broadcast handler.
    let (_dir, path) = ini("override", "150ms", "handler = broadcast\n");
    let (code, lines) = Proc::spawn("my_zmq", my_zmq(&["-c", path.to_str().unwrap()])).wait(LONG);
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    assert!(
        !lines.iter().any(|l| l.contains("Received job")),
        "{lines:?}"
    );
    let jobs_as_broadcasts = lines
        .iter()
        .filter(|l| l.ends_with("Received broadcast: ['This is message #1']"))
        .count();
    assert_eq!(jobs_as_broadcasts, 1, "{lines:?}");
}

#[test]
fn bad_configuration_is_one_line_naming_section_and_key_exit_2() {
    let _bomb = time_bomb("bad_config", LONG);
    let cases = [
        (
            "type",
            "type = FOO\n",
            "[MyWorker.job] type: unknown socket type `FOO`",
        ),
        (
            "handler",
            "handler = nobody\n",
            "[MyWorker.job] handler: no handler named `nobody`",
        ),
        ("section", "[Nope]\nx = 1\n", "[Nope] unknown section"),
        (
            "malformed",
            "this is not ini\n",
            "expected `key = value`: `this is not ini`",
        ),
        (
            "key",
            "colour = red\n",
            "[MyWorker.job] colour: unknown key",
        ),
    ];
    for (tag, extra, expected) in cases {
        let (_dir, path) = ini(tag, "1s", extra);
        let (code, lines) =
            Proc::spawn("my_zmq", my_zmq(&["-c", path.to_str().unwrap()])).wait(LONG);
        assert_eq!(code, Some(2), "{tag}: {lines:?}");
        assert_eq!(lines.len(), 1, "{tag}: {lines:?}");
        assert!(lines[0].starts_with("error: "), "{tag}: {lines:?}");
        assert!(lines[0].contains(expected), "{tag}: {lines:?}");
    }
    // A missing endpoint: the worker's job channel has none in the file.
    let (_dir, path) = ini("endpoint", "1s", "");
    let text = std::fs::read_to_string(&path).unwrap();
    let without: String = text
        .lines()
        .scan(false, |in_job, l| {
            if l.starts_with('[') {
                *in_job = l == "[MyWorker.job]";
            }
            Some(if *in_job && l.starts_with("endpoint") {
                "endpoint =".to_owned()
            } else {
                l.to_owned()
            })
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, without).unwrap();
    let (code, lines) = Proc::spawn("my_zmq", my_zmq(&["-c", path.to_str().unwrap()])).wait(LONG);
    assert_eq!(code, Some(2), "{lines:?}");
    assert!(
        lines[0].contains("[MyWorker.job] endpoint: missing"),
        "{lines:?}"
    );
    let (code, lines) = Proc::spawn("my_zmq", my_zmq(&["--bogus"])).wait(LONG);
    assert_eq!((code, lines.len()), (Some(2), 1), "{lines:?}");
}

#[test]
fn sigterm_to_the_supervisor_ends_every_process_cleanly() {
    let _bomb = time_bomb("sigterm", LONG);
    let (_dir, path) = ini("sigterm", "30s", "");
    let mut p = Proc::spawn("my_zmq", my_zmq(&["-c", path.to_str().unwrap()]));
    p.wait_for("(my:server)   MyServer has begun", LONG);
    for w in WORKERS {
        p.wait_for(&format!("{w} MyWorker has begun"), LONG);
    }
    p.signal("TERM");
    let (code, lines) = p.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.ends_with("is terminating"))
            .count(),
        5,
        "{lines:?}"
    );
}

#[test]
fn handler_errors_are_logged_and_the_daemon_keeps_running() {
    use corsair::daemon::{Channel, Daemon, Env, Format, Ini, Level, Logger};
    let _bomb = time_bomb("handler_errors", LONG);
    let ctx = zmq::Context::new();
    // The test's PUSH connects first and queues its messages; the
    // daemon's PULL binds when it runs.
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.connect("inproc://jobs").unwrap();
    let daemon = Daemon::new("Counter", 0u32).on(
        Channel::new("jobs", zmq::PULL).bind("inproc://jobs"),
        |ok, ctx, msg| match msg[0].as_slice() {
            b"bad" => Err("a bad job".into()),
            b"stop" => {
                ctx.terminate();
                Ok(())
            }
            _ => {
                *ok += 1;
                Ok(())
            }
        },
    );
    for m in ["ok", "bad", "ok", "bad", "stop"] {
        push.send(m, 0).unwrap();
    }
    let env = Env {
        ctx: ctx.clone(),
        ini: Ini::default(),
        logger: Logger::new("test", 6, Level::Info, Format::Short),
        shutdown: corsair::Shutdown::new(),
    };
    assert_eq!(daemon.run(&env).unwrap(), 2);
}
