//! Issue 5: the basic socket patterns, as `corsair pattern` and as the
//! zguide-named examples run as separate processes.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(60);

/// An example binary, built by `cargo test` next to the test binaries.
fn example(name: &str, args: &[&str]) -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let mut cmd = Command::new(dir.join(name));
    cmd.args(args);
    cmd
}

fn ok_lines(cmd: Command, name: &str) -> Vec<String> {
    let (code, lines) = Proc::spawn(name, cmd).wait(LONG);
    assert_eq!(code, Some(0), "{name}: {lines:?}");
    lines
}

#[test]
fn reqrep_pattern_hello_gets_world() {
    let _bomb = time_bomb("reqrep", LONG);
    let lines = ok_lines(
        corsair(&["pattern", "reqrep", "--tasks", "4"]),
        "pattern reqrep",
    );
    assert_eq!(
        lines.iter().filter(|l| *l == "  client <- World").count(),
        4
    );
    assert!(
        lines.contains(&"4 requests, 4 replies, all World: true".to_owned()),
        "{lines:?}"
    );
}

#[test]
fn pipeline_pattern_counts_every_task_once_with_one_and_three_workers() {
    let _bomb = time_bomb("pipeline", LONG);
    for (workers, tasks) in [("1", "30"), ("3", "90")] {
        let lines = ok_lines(
            corsair(&[
                "pattern",
                "pipeline",
                "--workers",
                workers,
                "--tasks",
                tasks,
            ]),
            "pattern pipeline",
        );
        let sink = lines
            .iter()
            .find(|l| l.contains("sink:"))
            .expect("sink line");
        assert!(
            sink.contains(&format!("{tasks} of {tasks} tasks, 0 duplicates")),
            "{sink}"
        );
        let per_worker: u64 = lines
            .iter()
            .filter_map(|l| l.trim().strip_prefix("worker "))
            .map(|l| l.split(' ').nth(1).unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(per_worker, tasks.parse::<u64>().unwrap(), "{lines:?}");
        assert!(lines.contains(&"every task processed exactly once: yes".to_owned()));
    }
}

#[test]
fn pubsub_pattern_filters_and_reports_what_the_late_subscriber_missed() {
    let _bomb = time_bomb("pubsub", LONG);
    let lines = ok_lines(
        corsair(&["pattern", "pubsub", "--tasks", "5000"]),
        "pattern pubsub",
    );
    let filter = lines
        .iter()
        .find(|l| l.contains("filter"))
        .expect("filter line");
    assert!(
        filter.contains("20 updates, zipcodes seen {10001}"),
        "{filter}"
    );
    let late = lines
        .iter()
        .find(|l| l.contains("late joiner"))
        .expect("late joiner line");
    // received + missed = published
    let num = |key: &str| -> u64 {
        late.split(key)
            .nth(1)
            .unwrap()
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(num("received ") + num("missed "), 5000, "{late}");
    assert!(
        lines.iter().any(|l| l.contains("high-water mark")),
        "{lines:?}"
    );
}

#[test]
fn hwserver_and_hwclient_as_processes() {
    let _bomb = time_bomb("hw", LONG);
    let mut server = Proc::spawn("hwserver", example("hwserver", &["tcp://127.0.0.1:0", "3"]));
    let line = server.wait_for("hwserver: bound", LONG);
    let endpoint = line.rsplit(' ').next().unwrap().to_owned();
    let lines = ok_lines(example("hwclient", &[&endpoint, "3"]), "hwclient");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("Received World"))
            .count(),
        3
    );
    let (code, lines) = server.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines.iter().filter(|l| *l == "Received Hello").count(), 3);
}

#[test]
fn wuclient_receives_only_its_zipcode() {
    let _bomb = time_bomb("wu", LONG);
    let mut server = Proc::spawn(
        "wuserver",
        example("wuserver", &["tcp://127.0.0.1:0", "20000"]),
    );
    let line = server.wait_for("wuserver: bound", LONG);
    let endpoint = line.rsplit(' ').next().unwrap().to_owned();
    let lines = ok_lines(example("wuclient", &[&endpoint, "10003", "15"]), "wuclient");
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("Average temperature for zipcode '10003'"),
        "{last}"
    );
    assert!(
        last.contains("over 15 updates (zipcodes seen: {10003})"),
        "{last}"
    );
    server.kill();
}

#[test]
fn pipeline_examples_with_workers_started_before_and_after_the_ventilator() {
    let _bomb = time_bomb("task", LONG);
    let dir = Scratch::new("pipeline");
    let ep = |name: &str| dir.ipc(name);
    let (tasks, results, control, kill) = (ep("tasks"), ep("results"), ep("control"), ep("kill"));
    let mut sink = Proc::spawn(
        "tasksink",
        example("tasksink", &[&results, &control, &kill]),
    );
    sink.wait_for("tasksink: results", LONG);
    let worker = |n: u32| {
        let mut p = Proc::spawn(
            &format!("taskwork {n}"),
            example("taskwork", &[&tasks, &results, &kill]),
        );
        p.wait_for("taskwork: ready", LONG);
        p
    };
    let mut workers = vec![worker(1), worker(2)];
    let vent = Proc::spawn(
        "taskvent",
        example("taskvent", &[&tasks, &control, "50", "5"]),
    );
    workers.push(worker(3));
    let lines = {
        let (code, lines) = vent.wait(LONG);
        assert_eq!(code, Some(0), "{lines:?}");
        lines
    };
    assert!(
        lines.iter().any(|l| l.starts_with("Sent 50 tasks")),
        "{lines:?}"
    );
    let (code, lines) = sink.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("received 50 of 50 tasks (0 duplicates)")),
        "{lines:?}"
    );
    let mut ids = Vec::new();
    for w in workers {
        let name = w.name.clone();
        let (code, lines) = w.wait(LONG);
        assert_eq!(code, Some(0), "{name} exits on KILL: {lines:?}");
        ids.extend(
            lines
                .iter()
                .filter_map(|l| l.strip_prefix("task "))
                .map(|l| l.split(' ').next().unwrap().to_owned()),
        );
    }
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        50,
        "every task done exactly once across the workers"
    );
}
