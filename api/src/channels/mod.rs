//! Messaging platforms as channels over the same turn as `/api/v1/chat`: WeChat official
//! accounts (`/channels/wechat/{account}`) and WeCom apps (`/channels/wecom/{agent}`), in
//! plain or safe (encrypted) mode. A platform user is one conversation per account
//! (`wx-…` / `wc-…` session ids from the account and openid). The platform waits 5 seconds and
//! retries 3 times: each message (MsgId, or sender + time for events) runs one turn, once,
//! whichever replica gets it (the database's idempotency keys); an answer ready within the
//! window is the passive reply, and a later retry of the same message gets the stored answer.

pub mod binding;
pub mod config;
pub mod crypto;
pub mod outbound;
mod platform;

pub use config::{Channels, Mode};
pub use platform::router;
