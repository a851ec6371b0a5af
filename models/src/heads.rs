//! Small classifier heads on top of sentence embeddings (intents, ticket routing): a linear
//! softmax layer trained with candle-nn's AdamW, full batch, from zero weights, so the same
//! examples always give the same head. Optionally inputs are standardised per dimension
//! first (sentence embeddings differ from each other only in small parts of each coordinate,
//! so raw vectors give flat, cautious probabilities; standardised ones sharp probabilities
//! that fit the training set closer). Saved as safetensors with its labels beside it.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Init, Optimizer, ParamsAdamW, VarBuilder, VarMap};

use crate::{Error, Result, UserError};

/// A trained head: `softmax(W·x + b)` over `labels`.
#[derive(Debug, Clone)]
pub struct LinearHead {
    pub labels: Vec<String>,
    weight: Vec<f32>,
    bias: Vec<f32>,
    /// Per-dimension mean and inverse standard deviation of the training inputs.
    mean: Vec<f32>,
    scale: Vec<f32>,
    dim: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct TrainConfig {
    pub epochs: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Standardise every input dimension by the training set's mean and deviation.
    pub standardize: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 300,
            learning_rate: 0.05,
            weight_decay: 0.001,
            standardize: false,
        }
    }
}

impl LinearHead {
    /// Trains on `(label, embedding)` examples.
    pub fn train(examples: &[(String, Vec<f32>)], config: TrainConfig) -> Result<LinearHead> {
        let mut labels: Vec<String> = examples.iter().map(|(label, _)| label.clone()).collect();
        labels.sort();
        labels.dedup();
        let dim = examples.first().map_or(0, |(_, x)| x.len());
        if labels.len() < 2 || dim == 0 {
            return Err(training("a head needs examples of at least two labels"));
        }
        let device = Device::Cpu;
        let n = examples.len();
        if examples.iter().any(|(_, x)| x.len() != dim) {
            return Err(training("examples have embeddings of different sizes"));
        }
        let (mean, scale) = if config.standardize {
            let mut mean = vec![0f32; dim];
            for (_, x) in examples {
                for (m, v) in mean.iter_mut().zip(x) {
                    *m += v / n as f32;
                }
            }
            let mut var = vec![0f32; dim];
            for (_, x) in examples {
                for ((s, v), m) in var.iter_mut().zip(x).zip(&mean) {
                    *s += (v - m) * (v - m) / n as f32;
                }
            }
            let scale = var.iter().map(|v| 1.0 / (v.sqrt() + 1e-6)).collect();
            (mean, scale)
        } else {
            (vec![0.0; dim], vec![1.0; dim])
        };
        let flat: Vec<f32> = examples
            .iter()
            .flat_map(|(_, x)| x.iter().zip(&mean).zip(&scale).map(|((v, m), s)| (v - m) * s))
            .collect();
        let xs = Tensor::from_vec(flat, (n, dim), &device)?;
        let ys: Vec<u32> = examples
            .iter()
            .map(|(label, _)| labels.iter().position(|l| l == label).unwrap_or(0) as u32)
            .collect();
        let ys = Tensor::from_vec(ys, n, &device)?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let weight = vb.get_with_hints((labels.len(), dim), "weight", Init::Const(0.0))?;
        let bias = vb.get_with_hints(labels.len(), "bias", Init::Const(0.0))?;
        let params = ParamsAdamW {
            lr: config.learning_rate,
            weight_decay: config.weight_decay,
            ..ParamsAdamW::default()
        };
        let mut optimizer = AdamW::new(varmap.all_vars(), params)?;
        for _ in 0..config.epochs {
            let logits = xs.matmul(&weight.t()?)?.broadcast_add(&bias)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &ys)?;
            optimizer.backward_step(&loss)?;
        }
        Ok(LinearHead {
            labels,
            weight: weight.flatten_all()?.to_vec1()?,
            bias: bias.to_vec1()?,
            mean,
            scale,
            dim,
        })
    }

    /// Probabilities per label, in `labels` order.
    pub fn probabilities(&self, x: &[f32]) -> Vec<f32> {
        if x.len() != self.dim {
            return vec![1.0 / self.labels.len() as f32; self.labels.len()];
        }
        let x: Vec<f32> = x
            .iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .map(|((v, m), s)| (v - m) * s)
            .collect();
        let logits: Vec<f32> = (0..self.labels.len())
            .map(|k| {
                self.bias[k]
                    + self.weight[k * self.dim..(k + 1) * self.dim]
                        .iter()
                        .zip(&x)
                        .map(|(w, v)| w * v)
                        .sum::<f32>()
            })
            .collect();
        let max = logits.iter().copied().fold(f32::MIN, f32::max);
        let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        exp.into_iter().map(|e| e / sum).collect()
    }

    /// The most likely label and its probability.
    pub fn predict(&self, x: &[f32]) -> (&str, f32) {
        let probabilities = self.probabilities(x);
        let (best, p) = probabilities
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap_or((0, &0.0));
        (self.labels.get(best).map_or("", String::as_str), *p)
    }

    /// Writes `path` (safetensors: weight, bias) and `path.labels.json`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let device = Device::Cpu;
        let tensors = std::collections::HashMap::from([
            (
                "weight".to_string(),
                Tensor::from_vec(self.weight.clone(), (self.labels.len(), self.dim), &device)?,
            ),
            (
                "bias".to_string(),
                Tensor::from_vec(self.bias.clone(), self.labels.len(), &device)?,
            ),
            (
                "mean".to_string(),
                Tensor::from_vec(self.mean.clone(), self.dim, &device)?,
            ),
            (
                "scale".to_string(),
                Tensor::from_vec(self.scale.clone(), self.dim, &device)?,
            ),
        ]);
        candle_core::safetensors::save(&tensors, path)?;
        let labels = serde_json::to_string(&self.labels).map_err(|e| training(&e.to_string()))?;
        std::fs::write(labels_path(path), labels).map_err(|source| {
            Error::User(UserError::Io {
                path: path.to_path_buf(),
                source,
            })
        })?;
        Ok(())
    }

    pub fn load(path: &Path) -> Result<LinearHead> {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)?;
        let get = |name: &str| {
            tensors
                .get(name)
                .ok_or_else(|| training(&format!("{} has no {name}", path.display())))
        };
        let weight = get("weight")?;
        let (n_labels, dim) = weight.dims2()?;
        let labels_file = labels_path(path);
        let text = std::fs::read_to_string(&labels_file).map_err(|source| {
            Error::User(UserError::Io {
                path: labels_file.clone(),
                source,
            })
        })?;
        let labels: Vec<String> = serde_json::from_str(&text).map_err(|e| training(&e.to_string()))?;
        if labels.len() != n_labels {
            return Err(training(&format!("{} labels for {n_labels} rows", labels.len())));
        }
        // Heads saved before standardisation have neither: identity.
        let vector = |name: &str, default: f32| -> Result<Vec<f32>> {
            match tensors.get(name) {
                Some(t) => {
                    let v: Vec<f32> = t.to_vec1()?;
                    if v.len() != dim {
                        return Err(training(&format!("{} has {name} of size {}", path.display(), v.len())));
                    }
                    Ok(v)
                }
                None => Ok(vec![default; dim]),
            }
        };
        Ok(LinearHead {
            labels,
            weight: weight.flatten_all()?.to_vec1()?,
            bias: get("bias")?.to_vec1()?,
            mean: vector("mean", 0.0)?,
            scale: vector("scale", 1.0)?,
            dim,
        })
    }
}

fn training(reason: &str) -> Error {
    Error::User(UserError::Invalid {
        path: std::path::PathBuf::from("(head)"),
        reason: reason.to_string(),
    })
}

fn labels_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".labels.json");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<(String, Vec<f32>)> {
        vec![
            ("a".into(), vec![1.0, 0.1, 0.0]),
            ("a".into(), vec![0.9, 0.0, 0.1]),
            ("b".into(), vec![0.0, 1.0, 0.1]),
            ("b".into(), vec![0.1, 0.9, 0.0]),
            ("c".into(), vec![0.0, 0.1, 1.0]),
            ("c".into(), vec![0.1, 0.0, 0.9]),
        ]
    }

    #[test]
    fn a_head_learns_separable_examples_deterministically() {
        let head = LinearHead::train(&examples(), TrainConfig::default()).unwrap();
        assert_eq!(head.predict(&[0.8, 0.1, 0.1]).0, "a");
        assert_eq!(head.predict(&[0.1, 0.1, 0.8]).0, "c");
        let again = LinearHead::train(&examples(), TrainConfig::default()).unwrap();
        assert_eq!(head.weight, again.weight, "same examples, same head");
    }

    #[test]
    fn a_saved_head_loads_back() {
        let head = LinearHead::train(&examples(), TrainConfig::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("intent.safetensors");
        head.save(&path).unwrap();
        let loaded = LinearHead::load(&path).unwrap();
        assert_eq!(loaded.labels, head.labels);
        assert_eq!(
            loaded.probabilities(&[0.0, 1.0, 0.0]),
            head.probabilities(&[0.0, 1.0, 0.0])
        );
    }

    #[test]
    fn a_standardised_head_learns_and_keeps_its_statistics() {
        let config = TrainConfig {
            standardize: true,
            ..TrainConfig::default()
        };
        // Embedding-like inputs: a large shared part, labels in small differences.
        let examples: Vec<(String, Vec<f32>)> = examples()
            .into_iter()
            .map(|(l, x)| (l, x.iter().map(|v| 0.9 + v * 0.01).collect()))
            .collect();
        let head = LinearHead::train(&examples, config).unwrap();
        assert_eq!(head.predict(&[0.908, 0.901, 0.901]).0, "a");
        assert_eq!(head.predict(&[0.901, 0.901, 0.908]).0, "c");
        let raw = LinearHead::train(&examples, TrainConfig::default()).unwrap();
        assert!(
            head.predict(&[0.908, 0.901, 0.901]).1 > raw.predict(&[0.908, 0.901, 0.901]).1,
            "standardising sharpens the probabilities"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ticket.safetensors");
        head.save(&path).unwrap();
        let loaded = LinearHead::load(&path).unwrap();
        assert_eq!(
            loaded.probabilities(&[0.9, 0.91, 0.9]),
            head.probabilities(&[0.9, 0.91, 0.9])
        );
    }

    #[test]
    fn one_label_is_not_enough() {
        assert!(LinearHead::train(&examples()[..2], TrainConfig::default()).is_err());
    }
}
