//! `corsair keygen --out PATH/NAME`: a CURVE key pair in `NAME.pub` and
//! `NAME.secret` (mode 0600), one Z85 key on one line each.

use std::path::PathBuf;

use clap::Args;
use corsair::security::KeyPair;

/// Options of `corsair keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write: PATH/NAME makes PATH/NAME.pub and PATH/NAME.secret.
    #[arg(long, value_name = "PATH/NAME")]
    out: PathBuf,
}

/// Writes the key pair and names the files.
pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    let pair = KeyPair::generate()?;
    let (public, secret) = pair.write(&args.out)?;
    println!("public key {} -> {}", pair.public, public.display());
    println!("secret key -> {} (mode 0600)", secret.display());
    Ok(())
}
