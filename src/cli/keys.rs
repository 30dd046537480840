//! `postdate keys [--rotate]`: the signing keys of `Upstash-Signature` (spec §11.1).

use clap::Args;

use super::http::Client;
use super::render::show;
use super::{CliError, Server};
use crate::wire::SigningKeys;

pub const EXAMPLES: &str = "\
Examples:
  postdate keys
  postdate keys --rotate    # next becomes current; update receivers to the new pair
  postdate keys --json | jq -r .current";

#[derive(Args)]
pub struct KeysArgs {
    /// Rotate: the next key becomes the current one and a new next key is made. Receivers must learn the
    /// new next key before the following rotation.
    #[arg(long)]
    rotate: bool,
    #[command(flatten)]
    server: Server,
}

pub async fn run(args: KeysArgs) -> Result<(), CliError> {
    let client = Client::new(&args.server)?;
    let keys: SigningKeys = match args.rotate {
        true => client.post("/v2/keys/rotate").send().await?,
        false => client.get("/v2/keys").send().await?,
    };
    show(args.server.json, &keys, |keys| {
        format!(
            "QSTASH_CURRENT_SIGNING_KEY={}\nQSTASH_NEXT_SIGNING_KEY={}\n",
            keys.current, keys.next
        )
    });
    Ok(())
}
