//! The message crypto of WeChat official accounts and WeCom (企业微信) callbacks, in their
//! safe mode: signatures are SHA-1 over the sorted token, timestamp, nonce (and ciphertext);
//! the AES key is base64(EncodingAESKey + "="), AES-256-CBC with the key's first 16 bytes as
//! IV, PKCS#7 padding to 32-byte blocks; the plaintext is 16 random bytes, the message length
//! (4 bytes, big-endian), the message, and the receiver id (the app id, or the corp id).
//! The cipher is RustCrypto's; only the framing is written here.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use sha1::{Digest, Sha1};

type Encryptor = cbc::Encryptor<aes::Aes256>;
type Decryptor = cbc::Decryptor<aes::Aes256>;

/// The padding block of the platforms (32 bytes, not AES's 16).
const BLOCK: usize = 32;

/// Base64 that accepts the non-zero trailing bits a random 43-character EncodingAESKey ends in.
const KEY_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("EncodingAESKey 应为 43 个 base64 字符")]
    BadKey,
    #[error("密文不是有效的 base64")]
    BadBase64,
    #[error("密文长度不对或无法解密")]
    BadCipher,
    #[error("解密后的消息格式不对")]
    BadFrame,
    #[error("消息的接收方与配置不符")]
    WrongReceiver,
}

/// SHA-1 (hex) of the parts sorted and joined: the platforms' `signature` / `msg_signature`.
pub fn signature(parts: &[&str]) -> String {
    let mut sorted: Vec<&str> = parts.to_vec();
    sorted.sort_unstable();
    let digest = Sha1::digest(sorted.concat().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two signatures without stopping at the first difference.
pub fn same_signature(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.to_ascii_lowercase().into_bytes());
    a.len() == b.len() && a.iter().zip(&b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One EncodingAESKey and the receiver id its messages carry.
#[derive(Clone)]
pub struct MessageCrypt {
    key: [u8; 32],
    receiver: String,
}

impl std::fmt::Debug for MessageCrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never printed.
        f.debug_struct("MessageCrypt")
            .field("receiver", &self.receiver)
            .finish_non_exhaustive()
    }
}

impl MessageCrypt {
    pub fn new(encoding_aes_key: &str, receiver: &str) -> Result<MessageCrypt, CryptoError> {
        if encoding_aes_key.len() != 43 {
            return Err(CryptoError::BadKey);
        }
        let bytes = KEY_BASE64
            .decode(format!("{encoding_aes_key}="))
            .map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(MessageCrypt {
            key,
            receiver: receiver.to_string(),
        })
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }

    /// Encrypts `message` with the given 16 random bytes: base64 of the ciphertext.
    pub fn encrypt_with(&self, random: &[u8; 16], message: &str) -> String {
        let mut plain = Vec::with_capacity(20 + message.len() + self.receiver.len() + BLOCK);
        plain.extend_from_slice(random);
        plain.extend_from_slice(&(message.len() as u32).to_be_bytes());
        plain.extend_from_slice(message.as_bytes());
        plain.extend_from_slice(self.receiver.as_bytes());
        let pad = BLOCK - plain.len() % BLOCK;
        plain.extend(std::iter::repeat_n(pad as u8, pad));
        let len = plain.len();
        let cipher = Encryptor::new(&self.key.into(), &self.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut plain, len)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(cipher)
    }

    /// Encrypts `message` with fresh random bytes.
    pub fn encrypt(&self, message: &str) -> String {
        let mut random = [0u8; 16];
        if getrandom::fill(&mut random).is_err() {
            // No system randomness: the framing still holds, only the prefix is predictable.
            random = *uuid::Uuid::new_v4().as_bytes();
        }
        self.encrypt_with(&random, message)
    }

    /// Decrypts base64 `encrypted`; the receiver id inside must be this one's.
    pub fn decrypt(&self, encrypted: &str) -> Result<String, CryptoError> {
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(encrypted.trim())
            .map_err(|_| CryptoError::BadBase64)?;
        if bytes.is_empty() || bytes.len() % 16 != 0 {
            return Err(CryptoError::BadCipher);
        }
        let plain = Decryptor::new(&self.key.into(), &self.iv().into())
            .decrypt_padded_mut::<NoPadding>(&mut bytes)
            .map_err(|_| CryptoError::BadCipher)?;
        let pad = usize::from(*plain.last().ok_or(CryptoError::BadFrame)?);
        if !(1..=BLOCK).contains(&pad) || pad > plain.len() {
            return Err(CryptoError::BadFrame);
        }
        let plain = &plain[..plain.len() - pad];
        if plain.len() < 20 {
            return Err(CryptoError::BadFrame);
        }
        let len = u32::from_be_bytes([plain[16], plain[17], plain[18], plain[19]]) as usize;
        let rest = &plain[20..];
        if len > rest.len() {
            return Err(CryptoError::BadFrame);
        }
        let (message, receiver) = rest.split_at(len);
        if receiver != self.receiver.as_bytes() {
            return Err(CryptoError::WrongReceiver);
        }
        String::from_utf8(message.to_vec()).map_err(|_| CryptoError::BadFrame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official account platform's URL verification sample.
    #[test]
    fn the_published_url_signature() {
        assert_eq!(
            signature(&["test", "1410685589", "test"]),
            "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"
        );
        assert!(same_signature(
            "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff",
            "F21891DE399B4E33A1A93C9A7B8A8FFFB5A443FF"
        ));
        assert!(!same_signature("f21891de399b4e33a1a93c9a7b8a8fffb5a443ff", "f21891de"));
    }

    /// The official account platform's own encryption sample.
    #[test]
    fn the_published_wechat_message() {
        let crypt = MessageCrypt::new("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxb11529c136998cb6").unwrap();
        let encrypted = crypt.encrypt_with(b"aaaabbbbccccdddd", "我是中文abcd123");
        assert_eq!(
            encrypted,
            "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
        );
        assert_eq!(crypt.decrypt(&encrypted).unwrap(), "我是中文abcd123");
        // Another receiver's message is refused, and so is a damaged one.
        let other = MessageCrypt::new("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx0000000000000000").unwrap();
        assert_eq!(other.decrypt(&encrypted), Err(CryptoError::WrongReceiver));
        assert_eq!(crypt.decrypt("not base64!"), Err(CryptoError::BadBase64));
        assert_eq!(crypt.decrypt("AAAA"), Err(CryptoError::BadCipher));
        // A fresh random prefix each time, the same message inside.
        let (a, b) = (crypt.encrypt("你好"), crypt.encrypt("你好"));
        assert_ne!(a, b);
        assert_eq!(crypt.decrypt(&b).unwrap(), "你好");
    }

    /// WeCom's URL verification sample: the signature covers the encrypted echostr, which
    /// decrypts to the number to echo.
    #[test]
    fn the_published_wecom_verification() {
        let echostr = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==";
        assert_eq!(
            signature(&["hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "1476416373", "47744683", echostr]),
            "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
        );
        let crypt = MessageCrypt::new("6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "ww1436e0e65a779aee").unwrap();
        assert_eq!(crypt.decrypt(echostr).unwrap(), "1288432023552776189");
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused() {
        assert!(MessageCrypt::new("short", "wx").is_err());
        let debug = format!(
            "{:?}",
            MessageCrypt::new("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx").unwrap()
        );
        assert!(!debug.contains("abcdef"), "{debug}");
    }
}
