//! The dense side of retrieval: each guide cut into chunks (title with its summary, the
//! aliases, every FAQ question, each section), embedded once with the passage prefix and
//! searched exactly by dot product (vectors are L2-normalised, so it is the cosine). A few
//! hundred chunks need no approximate index.

use knowledge::Corpus;

/// A piece of a guide that is embedded on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub guide_id: String,
    /// summary, aliases, faq:N, conditions, materials, steps
    pub section: String,
    pub text: String,
}

/// The chunks of every guide of a corpus, in a stable order.
pub fn chunks(corpus: &Corpus) -> Vec<Chunk> {
    let mut out = Vec::new();
    for guide in &corpus.guides {
        let mut push = |section: String, text: String| {
            if !text.trim().is_empty() {
                out.push(Chunk {
                    guide_id: guide.id.clone(),
                    section,
                    text,
                });
            }
        };
        push("summary".into(), format!("{}：{}", guide.title, guide.summary));
        push(
            "aliases".into(),
            format!("{}（{}）", guide.title, guide.aliases.join("、")),
        );
        for (i, faq) in guide.faq.iter().enumerate() {
            push(format!("faq:{}", i + 1), format!("{}：{}", guide.title, faq.q));
        }
        push(
            "conditions".into(),
            format!("{} 办理条件：{}", guide.title, guide.conditions.join("；")),
        );
        let materials: Vec<&str> = guide.materials.iter().map(|m| m.name.as_str()).collect();
        push(
            "materials".into(),
            format!("{} 所需材料：{}", guide.title, materials.join("、")),
        );
        push(
            "steps".into(),
            format!("{} 办理流程：{}", guide.title, guide.steps.join("；")),
        );
    }
    out
}

/// Chunk vectors, row-major, searched exactly.
#[derive(Debug, Clone)]
pub struct DenseIndex {
    chunks: Vec<Chunk>,
    vectors: Vec<f32>,
    dim: usize,
}

/// A guide's best chunk for a query.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseHit {
    pub guide_id: String,
    pub section: String,
    /// Cosine similarity of the best chunk.
    pub score: f32,
}

impl DenseIndex {
    /// `vectors[i]` embeds `chunks[i]`; all of length `dim`.
    pub fn new(chunks: Vec<Chunk>, vectors: Vec<Vec<f32>>, dim: usize) -> DenseIndex {
        debug_assert_eq!(chunks.len(), vectors.len());
        let flat = vectors.into_iter().flat_map(|v| {
            let mut v = v;
            v.resize(dim, 0.0);
            v
        });
        DenseIndex {
            chunks,
            vectors: flat.collect(),
            dim,
        }
    }

    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Every chunk with its cosine to `query`, in the chunks' order (empty for a vector of
    /// the wrong size).
    pub fn chunk_scores(&self, query: &[f32]) -> Vec<(&Chunk, f32)> {
        if query.len() != self.dim || self.dim == 0 {
            return Vec::new();
        }
        self.chunks
            .iter()
            .enumerate()
            .map(|(i, chunk)| {
                let row = &self.vectors[i * self.dim..(i + 1) * self.dim];
                (chunk, row.iter().zip(query).map(|(a, b)| a * b).sum())
            })
            .collect()
    }

    /// The best `limit` guides (each by its best chunk), best first.
    pub fn search(&self, query: &[f32], limit: usize) -> Vec<DenseHit> {
        if query.len() != self.dim || self.dim == 0 {
            return Vec::new();
        }
        let mut best: Vec<DenseHit> = Vec::new();
        for (i, chunk) in self.chunks.iter().enumerate() {
            let row = &self.vectors[i * self.dim..(i + 1) * self.dim];
            let score: f32 = row.iter().zip(query).map(|(a, b)| a * b).sum();
            match best.iter_mut().find(|h| h.guide_id == chunk.guide_id) {
                Some(hit) if hit.score >= score => {}
                Some(hit) => {
                    hit.score = score;
                    hit.section = chunk.section.clone();
                }
                None => best.push(DenseHit {
                    guide_id: chunk.guide_id.clone(),
                    section: chunk.section.clone(),
                    score,
                }),
            }
        }
        best.sort_by(|a, b| b.score.total_cmp(&a.score));
        best.truncate(limit);
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(guide: &str, section: &str) -> Chunk {
        Chunk {
            guide_id: guide.into(),
            section: section.into(),
            text: String::new(),
        }
    }

    #[test]
    fn guides_are_ranked_by_their_best_chunk() {
        let index = DenseIndex::new(
            vec![chunk("a", "summary"), chunk("a", "faq:1"), chunk("b", "summary")],
            vec![vec![1.0, 0.0], vec![0.6, 0.8], vec![0.0, 1.0]],
            2,
        );
        let hits = index.search(&[0.0, 1.0], 5);
        assert_eq!(
            hits[0],
            DenseHit {
                guide_id: "b".into(),
                section: "summary".into(),
                score: 1.0
            }
        );
        assert_eq!((hits[1].guide_id.as_str(), hits[1].section.as_str()), ("a", "faq:1"));
        assert!(
            index.search(&[1.0], 5).is_empty(),
            "a query of the wrong size finds nothing"
        );
    }
}
