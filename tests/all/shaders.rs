//! Every WGSL file parses and validates with naga, without a GPU.

use backprop::backend::wgpu::kernels::{fused_examples, map_source, reduce_source, Kernel, SHADERS};

fn validate(name: &str, source: &str) -> naga::Module {
    let module =
        naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    module
}

pub fn every_shader_validates() {
    for (name, source) in SHADERS {
        validate(name, source);
    }
    validate("the generated elementwise module", map_source());
    validate("the generated reductions module", reduce_source());
}

pub fn every_fused_module_validates() {
    let modules = fused_examples();
    assert!(modules.len() > 50, "one module per elementwise op and side, and the optimizers");
    for (name, source) in modules {
        let module = validate(&name, source);
        let entries: Vec<&str> = module.entry_points.iter().map(|e| e.name.as_str()).collect();
        let expected: &[&str] = if name.starts_with("matmul") {
            &["matmul", "matmul_sum_splits", "matmul_small"]
        } else if name.starts_with("convolution") {
            &["conv_gemm", "conv_gemm_bias"]
        } else {
            &["updates"]
        };
        for entry in expected {
            assert!(entries.contains(entry), "{name}: no entry point {entry} in {entries:?}");
        }
    }
}

pub fn every_kernel_names_an_entry_point_of_its_file() {
    for kernel in Kernel::all() {
        let module = validate(kernel.file(), kernel.source());
        let found = module.entry_points.iter().any(|e| e.name == kernel.entry_point());
        assert!(found, "{kernel:?}: no entry point {} in {}", kernel.entry_point(), kernel.file());
    }
}
