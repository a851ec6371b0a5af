//! Homophone typos typed with a pinyin keyboard are corrected against the sample corpus's
//! names; real words, and windows across real words, are left alone.

use std::path::Path;

use index::{IndexConfig, SearchIndex};

fn sample_index() -> SearchIndex {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../knowledge/data");
    let corpus = knowledge::Corpus::load(&dir).unwrap().corpus;
    SearchIndex::build(&corpus, IndexConfig::default(), None).unwrap()
}

#[test]
fn homophone_typos_are_corrected_and_real_words_kept() {
    let index = sample_index();
    for (typed, meant) in [
        ("低报的条件是什么", "低保的条件是什么"),
        ("护找丢了补办要多久", "护照丢了补办要多久"),
        ("结昏登记要几张照片", "结婚登记要几张照片"),
        ("二手房过护 买卖双方都要到场吗", "二手房过户 买卖双方都要到场吗"),
        ("宝宝出身登记", "宝宝出生登记"),
    ] {
        assert_eq!(index.correct(typed).as_deref(), Some(meant), "{typed}");
    }
    for fine in [
        "八十岁老人政府有补贴吗",
        "身份证丢了怎么办",
        "明天天气怎么样",
        "事业单位退休",
    ] {
        assert_eq!(index.correct(fine), None, "{fine}");
    }
}
