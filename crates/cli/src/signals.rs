//! Ctrl-C and SIGTERM set the shutdown flag.

use anyhow::Context;
use corsair::Shutdown;

/// A shutdown signal that SIGINT and SIGTERM trigger.
pub fn shutdown_on_signals() -> anyhow::Result<Shutdown> {
    let shutdown = Shutdown::new();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, shutdown.flag())
            .with_context(|| format!("cannot install handler for signal {sig}"))?;
    }
    Ok(shutdown)
}
