//! The SentencePiece unigram tokenizer of XLM-R, built from the vocabulary and the
//! normalisation table inside an E5S1 file, and bit-for-bit the reference engine's: same
//! per-character normalisation, same space handling, same Viterbi tie-breaking (f32 scores,
//! first best path wins), one `<unk>` per unknown character.
//!
//! It replaces the 17 MB tokenizer.json of the same vocabulary, which costs about a second
//! and 280 MB to load with the `tokenizers` crate.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use crate::e5s1::Vocab;

/// SentencePiece's word-boundary marker, standing for a space.
const METASPACE: char = '\u{2581}';

pub(crate) struct Unigram {
    vocab: Vocab,
    /// Piece ids, found by the piece's text.
    ids: HashTable<u32>,
    hasher: RandomState,
    /// The score of an unknown character: ten below the lowest piece.
    unk_score: f32,
    max_piece_bytes: usize,
    normalization: HashMap<char, Box<[char]>>,
}

impl Unigram {
    pub fn new(vocab: &Vocab, normalization: &[(char, Vec<char>)]) -> Unigram {
        let vocab = vocab.clone();
        let hasher = RandomState::new();
        let mut ids = HashTable::with_capacity(vocab.len());
        for id in 0..vocab.len() as u32 {
            let piece = vocab.piece(id);
            // An empty piece can never match; a duplicate piece resolves to its first id.
            if piece.is_empty() {
                continue;
            }
            let hash = hasher.hash_one(piece);
            let entry = ids.entry(
                hash,
                |&other| vocab.piece(other) == piece,
                |&other| hasher.hash_one(vocab.piece(other)),
            );
            if let Entry::Vacant(vacant) = entry {
                vacant.insert(id);
            }
        }
        let lowest = vocab.scores.iter().copied().fold(f32::INFINITY, f32::min);
        let max_piece_bytes = (0..vocab.len() as u32)
            .map(|id| vocab.piece(id).len())
            .max()
            .unwrap_or(1);
        Unigram {
            ids,
            hasher,
            unk_score: lowest - 10.0,
            max_piece_bytes: max_piece_bytes.max(1),
            normalization: normalization
                .iter()
                .map(|(from, to)| (*from, to.clone().into_boxed_slice()))
                .collect(),
            vocab,
        }
    }

    fn id(&self, piece: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(piece);
        self.ids.find(hash, |&id| self.vocab.piece(id) == piece).copied()
    }

    /// The pieces of `text`, without `<s>` and `</s>`.
    pub fn content_ids(&self, text: &str) -> Vec<u32> {
        let normalized = self.normalize(text);
        // Byte offset of every character, plus the end.
        let mut starts: Vec<usize> = normalized.char_indices().map(|(i, _)| i).collect();
        starts.push(normalized.len());
        let n_chars = starts.len() - 1;

        // best[e]: the highest score of a segmentation of the first e characters, reached by
        // the piece `piece[e]` (None: an unknown character) starting at character `from[e]`.
        let mut best = vec![f32::NEG_INFINITY; n_chars + 1];
        let mut piece: Vec<Option<u32>> = vec![None; n_chars + 1];
        let mut from = vec![0usize; n_chars + 1];
        best[0] = 0.0;
        for start in 0..n_chars {
            if best[start] == f32::NEG_INFINITY {
                continue;
            }
            for end in start + 1..=n_chars {
                let span = &normalized[starts[start]..starts[end]];
                if span.len() > self.max_piece_bytes {
                    break;
                }
                if let Some(id) = self.id(span)
                    && id != self.vocab.unk
                {
                    let score = best[start] + self.vocab.scores[id as usize];
                    if score > best[end] {
                        (best[end], piece[end], from[end]) = (score, Some(id), start);
                    }
                }
            }
            let score = best[start] + self.unk_score;
            if score > best[start + 1] {
                (best[start + 1], piece[start + 1], from[start + 1]) = (score, None, start);
            }
        }

        let mut ids = Vec::new();
        let mut end = n_chars;
        while end > 0 {
            ids.push(piece[end].unwrap_or(self.vocab.unk));
            end = from[end];
        }
        ids.reverse();
        ids
    }

    /// Per-character normalisation, runs of spaces collapsed to one, a leading space added
    /// unless present, and every space turned into the metaspace.
    fn normalize(&self, text: &str) -> String {
        let mut chars: Vec<char> = Vec::with_capacity(text.len() + 1);
        for c in text.chars() {
            match self.normalization.get(&c) {
                Some(replacement) => {
                    for &r in replacement.iter() {
                        if !(r == ' ' && chars.last() == Some(&' ')) {
                            chars.push(r);
                        }
                    }
                }
                None if c == ' ' && chars.last() == Some(&' ') => {}
                None => chars.push(c),
            }
        }
        let mut normalized = String::with_capacity(chars.len() * 3 + 3);
        if chars.first() != Some(&' ') {
            normalized.push(METASPACE);
        }
        normalized.extend(chars.into_iter().map(|c| if c == ' ' { METASPACE } else { c }));
        normalized
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Unigram {
        let pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "b", "ab", "▁ab", "c"];
        let scores = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -3.0, -2.5, -4.0, -5.0];
        let vocab = Vocab::new(&pieces, &scores, 0, 2, 3);
        // Full-width A becomes "a"; the tab becomes a space; U+200B disappears.
        Unigram::new(&vocab, &[('\t', vec![' ']), ('\u{200b}', vec![]), ('Ａ', vec!['a'])])
    }

    #[test]
    fn viterbi_prefers_the_best_total_score() {
        // "▁ab" alone scores -4.0, "▁a" + "b" -6.0.
        assert_eq!(toy().content_ids("ab"), vec![8]);
    }

    #[test]
    fn unknown_characters_become_one_unk_each() {
        assert_eq!(toy().content_ids("ab  zz"), vec![8, 4, 3, 3]);
    }

    #[test]
    fn normalisation_runs_before_space_collapsing() {
        let unigram = toy();
        assert_eq!(unigram.normalize("Ａ\t \u{200b}b"), "▁a▁b");
        assert_eq!(unigram.normalize(" c "), "▁c▁");
        assert_eq!(unigram.normalize(""), "▁");
    }

    #[test]
    fn unk_literal_is_never_a_piece() {
        assert_eq!(toy().content_ids("<unk>").len(), 6);
    }
}
