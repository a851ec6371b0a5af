//! ggml Q4_0 blocks (the layout of candle's `BlockQ4_0`): an f16 scale, then 16 bytes whose
//! low nibbles are weights 0..16 and high nibbles weights 16..32, each stored plus 8.
//!
//! Dequantised here from bytes rather than through `candle_core::quantized::QStorage`, which
//! reinterprets the buffer in place and panics on a misaligned or ragged one.

use rayon::prelude::*;

pub(crate) const BLOCK: usize = 32;
pub(crate) const BLOCK_BYTES: usize = 2 + BLOCK / 2;

/// Dequantises whole blocks; `bytes.len()` is a multiple of [`BLOCK_BYTES`] (checked when
/// the file is parsed).
pub(crate) fn dequantize(bytes: &[u8]) -> Vec<f32> {
    let mut out = vec![0.0; bytes.len() / BLOCK_BYTES * BLOCK];
    out.par_chunks_mut(BLOCK * 1024)
        .zip(bytes.par_chunks(BLOCK_BYTES * 1024))
        .for_each(|(out, bytes)| dequantize_into(bytes, out));
    out
}

/// Dequantises `bytes` (whole blocks) into `out` (`BLOCK` values per block).
pub(crate) fn dequantize_into(bytes: &[u8], out: &mut [f32]) {
    for (block, out) in bytes.chunks_exact(BLOCK_BYTES).zip(out.chunks_exact_mut(BLOCK)) {
        let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        let (low, high) = out.split_at_mut(BLOCK / 2);
        for ((&byte, low), high) in block[2..].iter().zip(low).zip(high) {
            *low = (f32::from(byte & 0x0f) - 8.0) * scale;
            *high = (f32::from(byte >> 4) - 8.0) * scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    use super::*;

    #[test]
    fn dequantize_reads_candle_block_q4_0_bytes() {
        let values: Vec<f32> = (0..BLOCK * 64).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
        let tensor = Tensor::from_vec(values, (8, BLOCK * 8), &Device::Cpu).unwrap();
        let quantized = QTensor::quantize(&tensor, GgmlDType::Q4_0).unwrap();
        let expected: Vec<f32> = quantized
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let bytes = quantized.data().unwrap();
        assert_eq!(bytes.len(), 64 * BLOCK_BYTES);
        assert_eq!(dequantize(&bytes), expected);
    }
}
