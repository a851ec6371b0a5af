//! The E5S1 model file: a header, the unigram vocabulary, the per-character normalisation
//! table, and a directory of f32 or ggml Q4_0 tensors. Every read is bounds-checked, so a bad
//! file becomes a [`UserError`], never a panic.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{Result, UserError};
use crate::q4;

const MAGIC: &[u8; 4] = b"E5S1";
const TENSORS_PER_LAYER: usize = 16;
const VERSION: u32 = 1;

/// The numbers of the header; the shapes of all tensors follow from them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    pub hidden: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub intermediate: usize,
    pub n_word_rows: usize,
    pub n_positions: usize,
    pub n_token_types: usize,
    pub layer_norm_eps: f32,
}

/// The unigram vocabulary: piece `i` has id `i`. The pieces stay in one string (250k small
/// allocations took a fifth of the load time).
#[derive(Clone)]
pub(crate) struct Vocab {
    text: String,
    /// `n_pieces + 1` byte offsets into `text`, on character boundaries.
    offsets: Vec<u32>,
    pub scores: Vec<f32>,
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
}

impl Vocab {
    #[cfg(test)]
    pub fn new(pieces: &[&str], scores: &[f32], bos: u32, eos: u32, unk: u32) -> Vocab {
        let mut offsets = vec![0];
        let text: String = pieces.concat();
        for piece in pieces {
            offsets.push(offsets.last().copied().unwrap_or(0) + piece.len() as u32);
        }
        Vocab {
            text,
            offsets,
            scores: scores.to_vec(),
            bos,
            eos,
            unk,
        }
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn piece(&self, id: u32) -> &str {
        let id = id as usize;
        &self.text[self.offsets[id] as usize..self.offsets[id + 1] as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DType {
    F32,
    Q4_0,
}

struct Entry {
    dtype: DType,
    n_elements: usize,
    bytes: Range<usize>,
}

/// A parsed E5S1 file. Tensors are read out of it by name with the shape the header implies.
pub(crate) struct E5s1 {
    path: PathBuf,
    bytes: Vec<u8>,
    pub header: Header,
    pub vocab: Vocab,
    /// Sorted by character; each maps to zero or more characters.
    pub normalization: Vec<(char, Vec<char>)>,
    tensors: HashMap<String, Entry>,
}

impl E5s1 {
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<E5s1> {
        let mut reader = Reader {
            path,
            bytes: &bytes,
            pos: 0,
        };
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(UserError::BadMagic { path: path.to_owned() }.into());
        }
        reader.pos = MAGIC.len();
        let version = reader.u32("version")?;
        if version != VERSION {
            return Err(reader.unsupported(format!("E5S1 version {version}, expected {VERSION}")));
        }
        let header = Header {
            hidden: reader.count("hidden size")?,
            n_layers: reader.count("layer count")?,
            n_heads: reader.count("head count")?,
            intermediate: reader.count("intermediate size")?,
            n_word_rows: reader.count("word rows")?,
            n_positions: reader.count("positions")?,
            n_token_types: reader.count("token types")?,
            layer_norm_eps: reader.f32("layer norm eps")?,
        };
        let block = reader.count("block size")?;
        if block != q4::BLOCK {
            return Err(reader.unsupported(format!("block size {block}, expected {}", q4::BLOCK)));
        }
        check_header(&reader, &header)?;
        let vocab = read_vocab(&mut reader, header.n_word_rows)?;
        let normalization = read_normalization(&mut reader)?;
        let tensors = read_directory(&mut reader)?;
        Ok(E5s1 {
            path: path.to_owned(),
            bytes,
            header,
            vocab,
            normalization,
            tensors,
        })
    }

    /// Checks that the directory holds exactly the tensors of the header's architecture, each
    /// with the expected number of elements.
    pub fn check_tensors(&self) -> Result<()> {
        // Checked first: the list of expected names grows with the header's layer count.
        let n_expected = self
            .header
            .n_layers
            .checked_mul(TENSORS_PER_LAYER)
            .and_then(|n| n.checked_add(5));
        if n_expected != Some(self.tensors.len()) {
            return Err(self.invalid(format!(
                "{} tensors in the directory, {} layers need {}",
                self.tensors.len(),
                self.header.n_layers,
                n_expected.map_or("more".to_owned(), |n| n.to_string())
            )));
        }
        let expected: HashMap<String, usize> = expected_tensors(&self.header).into_iter().collect();
        let mut names: Vec<&String> = self.tensors.keys().collect();
        names.sort();
        if let Some(name) = names.into_iter().find(|name| !expected.contains_key(name.as_str())) {
            return Err(UserError::UnknownTensor {
                path: self.path.clone(),
                name: name.clone(),
            }
            .into());
        }
        let mut expected: Vec<(String, usize)> = expected.into_iter().collect();
        expected.sort();
        for (name, n_elements) in &expected {
            let entry = self.entry(name)?;
            if entry.n_elements != *n_elements {
                return Err(self.invalid(format!(
                    "tensor {name:?} has {} elements, expected {n_elements}",
                    entry.n_elements
                )));
            }
        }
        Ok(())
    }

    pub fn dtype(&self, name: &str) -> Result<DType> {
        Ok(self.entry(name)?.dtype)
    }

    /// The raw bytes of a tensor, as stored.
    pub fn raw(&self, name: &str) -> Result<&[u8]> {
        Ok(&self.bytes[self.entry(name)?.bytes.clone()])
    }

    /// A tensor as f32, dequantised if stored as Q4_0.
    pub fn to_f32(&self, name: &str) -> Result<Vec<f32>> {
        let entry = self.entry(name)?;
        let raw = &self.bytes[entry.bytes.clone()];
        Ok(match entry.dtype {
            DType::F32 => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            DType::Q4_0 => q4::dequantize(raw),
        })
    }

    /// The whole file, for hashing.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.tensors.get(name).ok_or_else(|| {
            UserError::MissingTensor {
                path: self.path.clone(),
                name: name.to_owned(),
            }
            .into()
        })
    }

    fn invalid(&self, reason: String) -> crate::Error {
        UserError::Invalid {
            path: self.path.clone(),
            reason,
        }
        .into()
    }
}

/// The tensors of the architecture and their element counts. Matrices are row-major
/// `[out, in]`.
fn expected_tensors(header: &Header) -> Vec<(String, usize)> {
    let h = header.hidden;
    let ff = header.intermediate;
    let mut tensors = vec![
        ("emb.word".to_owned(), header.n_word_rows * h),
        ("emb.pos".to_owned(), header.n_positions * h),
        ("emb.type".to_owned(), header.n_token_types * h),
        ("emb.ln.w".to_owned(), h),
        ("emb.ln.b".to_owned(), h),
    ];
    for layer in 0..header.n_layers {
        for (suffix, n_elements) in [
            ("q.w", h * h),
            ("q.b", h),
            ("k.w", h * h),
            ("k.b", h),
            ("v.w", h * h),
            ("v.b", h),
            ("ao.w", h * h),
            ("ao.b", h),
            ("aln.w", h),
            ("aln.b", h),
            ("fi.w", ff * h),
            ("fi.b", ff),
            ("fo.w", h * ff),
            ("fo.b", h),
            ("oln.w", h),
            ("oln.b", h),
        ] {
            tensors.push((format!("l{layer}.{suffix}"), n_elements));
        }
    }
    tensors
}

fn check_header(reader: &Reader, header: &Header) -> Result<()> {
    let problem = if header.hidden == 0 || header.n_heads == 0 || header.n_layers == 0 || header.intermediate == 0 {
        Some("zero hidden size, head count, layer count or intermediate size".to_owned())
    } else if !header.hidden.is_multiple_of(header.n_heads) {
        Some(format!(
            "hidden size {} is not a multiple of {} heads",
            header.hidden, header.n_heads
        ))
    } else if !header.hidden.is_multiple_of(q4::BLOCK) || !header.intermediate.is_multiple_of(q4::BLOCK) {
        Some(format!(
            "hidden and intermediate sizes must be multiples of {}",
            q4::BLOCK
        ))
    } else if header.n_positions < 3 || header.n_token_types == 0 {
        Some("too few positions or token types".to_owned())
    } else if !(header.layer_norm_eps.is_finite() && header.layer_norm_eps > 0.0) {
        Some(format!("layer norm eps {}", header.layer_norm_eps))
    } else {
        None
    };
    match problem {
        Some(reason) => Err(reader.invalid(reason)),
        None => Ok(()),
    }
}

fn read_vocab(reader: &mut Reader, n_word_rows: usize) -> Result<Vocab> {
    let n_pieces = reader.count("piece count")?;
    if n_pieces == 0 || n_pieces > n_word_rows {
        return Err(reader.invalid(format!("{n_pieces} pieces for {n_word_rows} word rows")));
    }
    let mut special = || -> Result<u32> {
        let id = reader.count("special token id")?;
        if id >= n_pieces {
            return Err(reader.invalid(format!("special token id {id} out of {n_pieces} pieces")));
        }
        Ok(id as u32)
    };
    let (bos, eos, _pad, unk) = (special()?, special()?, special()?, special()?);
    let blob_len = reader.u64("piece bytes length")?;
    let offsets = reader.take_u32s(n_pieces + 1, "piece offsets")?;
    let scores = reader.take_f32s(n_pieces, "piece scores")?;
    let blob = reader.take(blob_len, "piece bytes")?;
    let text = std::str::from_utf8(blob).map_err(|_| reader.invalid("pieces are not UTF-8".to_owned()))?;
    for (i, window) in offsets.windows(2).enumerate() {
        let (start, end) = (window[0] as usize, window[1] as usize);
        if start > end || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            return Err(reader.invalid(format!("piece {i} spans bytes {start}..{end} of {}", text.len())));
        }
    }
    if let Some(i) = scores.iter().position(|score| !score.is_finite()) {
        return Err(reader.invalid(format!("piece {i} has score {}", scores[i])));
    }
    Ok(Vocab {
        text: text.to_owned(),
        offsets,
        scores,
        bos,
        eos,
        unk,
    })
}

fn read_normalization(reader: &mut Reader) -> Result<Vec<(char, Vec<char>)>> {
    let n_entries = reader.count("normalisation entry count")?;
    let n_bytes = reader.u32("normalisation table length")?;
    let table = reader.take(u64::from(n_bytes), "normalisation table")?;
    // An entry takes at least 5 bytes: checked before allocating for them.
    if n_entries > table.len() / 5 {
        return Err(reader.invalid(format!("{n_entries} normalisation entries in {} bytes", table.len())));
    }
    let mut inner = Reader {
        path: reader.path,
        bytes: table,
        pos: 0,
    };
    let mut entries: Vec<(char, Vec<char>)> = Vec::with_capacity(n_entries);
    for _ in 0..n_entries {
        let from = inner.char("normalisation entry")?;
        let n_to = inner.take(1, "normalisation entry")?[0];
        let to = (0..n_to)
            .map(|_| inner.char("normalisation entry"))
            .collect::<Result<Vec<_>>>()?;
        if entries.last().is_some_and(|(previous, _)| *previous >= from) {
            return Err(reader.invalid("normalisation table is not sorted".to_owned()));
        }
        entries.push((from, to));
    }
    Ok(entries)
}

fn read_directory(reader: &mut Reader) -> Result<HashMap<String, Entry>> {
    let n_tensors = reader.count("tensor count")?;
    // A directory entry takes at least 23 bytes: checked before allocating for them.
    let needed = reader.pos as u64 + n_tensors as u64 * 23;
    if needed > reader.bytes.len() as u64 {
        return Err(reader.truncated("tensor directory".to_owned(), needed));
    }
    let mut tensors = HashMap::with_capacity(n_tensors);
    for _ in 0..n_tensors {
        let name_len = u16::from_le_bytes(reader.array("tensor name length")?);
        let name = reader.take(u64::from(name_len), "tensor name")?;
        let name =
            String::from_utf8(name.to_vec()).map_err(|_| reader.invalid("tensor name is not UTF-8".to_owned()))?;
        let dtype = match reader.take(1, "tensor dtype")?[0] {
            0 => DType::F32,
            1 => DType::Q4_0,
            other => return Err(reader.unsupported(format!("tensor {name:?} has dtype {other}"))),
        };
        let n_elements = reader.u32("tensor element count")? as usize;
        let offset = reader.u64("tensor offset")?;
        let n_bytes = reader.u64("tensor size")?;
        let expected_bytes = match dtype {
            DType::F32 => n_elements as u64 * 4,
            DType::Q4_0 if n_elements.is_multiple_of(q4::BLOCK) => (n_elements / q4::BLOCK * q4::BLOCK_BYTES) as u64,
            DType::Q4_0 => {
                return Err(reader.invalid(format!(
                    "tensor {name:?}: {n_elements} elements are not whole Q4_0 blocks"
                )));
            }
        };
        if n_bytes != expected_bytes {
            return Err(reader.invalid(format!("tensor {name:?} is {n_bytes} bytes, expected {expected_bytes}")));
        }
        let end = offset.saturating_add(n_bytes);
        let len = reader.bytes.len() as u64;
        if end > len {
            return Err(reader.truncated(format!("tensor {name:?}"), end));
        }
        let bytes = offset as usize..end as usize;
        if tensors
            .insert(
                name.clone(),
                Entry {
                    dtype,
                    n_elements,
                    bytes,
                },
            )
            .is_some()
        {
            return Err(reader.invalid(format!("tensor {name:?} appears twice")));
        }
    }
    Ok(tensors)
}

/// A bounds-checked little-endian cursor.
struct Reader<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        let end = (self.pos as u64).saturating_add(n);
        if end > self.bytes.len() as u64 {
            return Err(self.truncated(what.to_owned(), end));
        }
        let slice = &self.bytes[self.pos..end as usize];
        self.pos = end as usize;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let slice = self.take(N as u64, what)?;
        Ok(slice.try_into().expect("take returns exactly N bytes"))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// A non-negative i32.
    fn count(&mut self, what: &str) -> Result<usize> {
        let value = i32::from_le_bytes(self.array(what)?);
        usize::try_from(value).map_err(|_| self.invalid(format!("{what} is {value}")))
    }

    fn char(&mut self, what: &str) -> Result<char> {
        let value = self.u32(what)?;
        char::from_u32(value).ok_or_else(|| self.invalid(format!("{what}: U+{value:X} is not a character")))
    }

    fn take_u32s(&mut self, n: usize, what: &str) -> Result<Vec<u32>> {
        let bytes = self.take(n as u64 * 4, what)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn take_f32s(&mut self, n: usize, what: &str) -> Result<Vec<f32>> {
        let bytes = self.take(n as u64 * 4, what)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn truncated(&self, what: String, needed: u64) -> crate::Error {
        UserError::Truncated {
            path: self.path.to_owned(),
            what,
            needed,
            len: self.bytes.len() as u64,
        }
        .into()
    }

    fn invalid(&self, reason: String) -> crate::Error {
        UserError::Invalid {
            path: self.path.to_owned(),
            reason,
        }
        .into()
    }

    fn unsupported(&self, reason: String) -> crate::Error {
        UserError::Unsupported {
            path: self.path.to_owned(),
            reason,
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_tensors_count_matches_the_directory_check() {
        let header = Header {
            hidden: 64,
            n_layers: 3,
            n_heads: 2,
            intermediate: 128,
            n_word_rows: 10,
            n_positions: 8,
            n_token_types: 2,
            layer_norm_eps: 1e-12,
        };
        assert_eq!(expected_tensors(&header).len(), 5 + 3 * TENSORS_PER_LAYER);
    }
}
