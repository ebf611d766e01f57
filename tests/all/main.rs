//! The test suite, as one binary (one link instead of one per file) with its own runner
//! (libtest-mimic), so that GPU tests are reported as *ignored* when there is no adapter
//! rather than counted as passed. With `REQUIRE_GPU=1` a missing adapter fails them.
//! Every test is a plain function; `CPU` lists those that need no GPU, `GPU` those that
//! take the GPU device, and `BOTH` those run once per backend.

mod api;
mod checkpoints;
mod classifier;
mod cli;
mod common;
mod cpu;
mod crosscheck;
mod custom;
mod data;
mod data_parallel;
mod diagnostics;
mod dropout;
mod files;
mod fusion;
mod golden;
mod golden_conv;
mod golden_nd;
mod gradcheck;
#[path = "../common/held_mlp.rs"]
mod held_mlp;
mod layers;
mod misuse;
mod optimizers;
mod penalty;
mod resident;
mod resume;
mod scale;
mod semantics;
mod shaders;
mod tasks;
mod tensor;
mod training;
mod view;

use std::io::Write;

use backprop::Device;
use libtest_mimic::{Arguments, Failed, Trial};

/// A test that runs on the device it is given.
type DeviceTest = fn(&Device);

/// `module::function` pairs, named as the default harness would name them.
macro_rules! tests {
    ($ty:ty; $($module:ident::$name:ident),* $(,)?) => {
        vec![$((concat!(stringify!($module), "::", stringify!($name)), $module::$name as $ty)),*]
    };
}

fn cpu_tests() -> Vec<(&'static str, fn())> {
    tests![fn();
        checkpoints::round_trip_with_pytorch_names_and_shapes,
        checkpoints::strict_loading_rejects_missing_unexpected_and_misshapen,
        checkpoints::unreadable_files_are_errors,
        checkpoints::layer_norms_have_pytorch_shapes,
        classifier::data_sets_too_large_to_hold_are_fed_from_the_host,
        data::reads_plain_and_gzip_and_scales_pixels,
        data::wrong_magic_number,
        data::truncated_files,
        data::counts_must_agree_and_labels_fit,
        data::batches_pad_the_last_partial_batch,
        data::the_embedded_split_reads,
        data::dimensions_that_overflow_are_errors,
        data::gzip_is_inflated_only_as_far_as_the_header_says,
        files::charts_of_nan_and_inf_finish_and_say_so,
        files::output_paths_are_checked_before_any_work,
        files::failed_writes_leave_no_files_and_plain_messages,
        files::a_damaged_installation_is_an_error_naming_the_file,
        files::io_errors_name_the_path_and_the_reason_once,
        files::outputs_refuse_pipes_and_write_through_links,
        files::inputs_refuse_pipes_and_devices,
        files::files_written_together_fail_together,
        files::charts_are_named_png_or_svg,
        data::multi_member_gzip_reads_whole,
        misuse::sizes_beyond_the_limit_are_errors_naming_size_and_limit,
        misuse::a_classifier_with_an_absurd_batch_is_an_error,
        misuse::a_cpu_session_beyond_memory_is_an_error,
        misuse::layers_and_initialisers_reject_bad_sizes,
        misuse::datasets_keep_their_invariants,
        misuse::checkpoints_refuse_duplicate_names_and_non_finite_weights,
        misuse::update_ops_are_checked_like_every_other_op,
        misuse::map_checks_operands_and_constant,
        misuse::tensor_ops_name_the_rule_they_break,
        resume::mismatched_training_states_are_errors,
        view::dot_text_of_a_small_graph_is_exact,
        view::drawings_are_valid_svg_and_png,
        view::a_graph_of_10000_nodes_draws_in_seconds,
        view::decision_regions_draw_and_check_their_grid,
        cli::mlp_flags_out_of_range_name_the_flag_and_the_range,
        cli::mlp_checks_every_output_before_training,
        cli::mlp_save_named_like_a_chart_keeps_the_checkpoint,
        cli::mlp_resume_continues_bit_for_bit,
        cli::mlp_diverging_run_finishes,
        cli::mlp_damaged_data_names_the_file,
        cli::vanishing_gradients_checks_depth_and_titles_with_it,
        cli::readme_example_learns_xor,
        cli::the_default_device_is_never_a_software_rasterizer,
        cli::examples_draw_graphs_and_decision_regions,
        cli::moons_learns_the_two_moons,
        cli::attention_learns_to_reverse_digits,
        cli::custom_op_example_adds_swish_from_outside,
        cli::mlp_never_loses_a_model,
        cli::layers_example_trains_saves_and_resumes,
        cli::cnn_example_trains_and_draws,
        diagnostics::statistics_and_clipping_match_finite_differences,
        gradcheck::matmul_all_transpose_variants,
        gradcheck::add_sub_mul_with_broadcasting,
        gradcheck::unary_ops,
        gradcheck::reductions_and_loss,
        gradcheck::value_used_twice_accumulates,
        gradcheck::xor_network_gradients,
        gradcheck::softmax_cross_entropy_wrt_logits,
        gradcheck::small_mlp_with_cross_entropy,
        tensor::composed_nd_graphs_match_finite_differences,
        optimizers::adam_matches_pytorch_formula,
        optimizers::sgd_momentum_matches_pytorch_formula,
        optimizers::invalid_hyper_parameters_are_errors,
        shaders::every_shader_validates,
        shaders::every_kernel_names_an_entry_point_of_its_file,
        shaders::every_fused_module_validates,
        fusion::the_pass_groups_what_a_training_step_repeats,
        cpu::results_do_not_depend_on_the_thread_count,
        cpu::convolutions_do_not_depend_on_the_thread_count,
        cli::the_readme_shows_the_examples_code,
        cli::quickstart_trains_and_saves,
        golden::schedules_match_pytorch_schedulers,
        misuse::layout_ops_check_their_ranges,
        custom::bad_registrations_are_errors,
        api::device_batches_out_of_order_are_errors,
        api::duplicate_names_and_empty_schedules_are_errors,
        api::messages_say_what_to_do,
        api::an_epoch_refuses_steps_past_its_end,
        api::a_layer_must_list_what_it_records,
        api::the_documented_state_names_exist,
        api::the_names_the_docs_give_exist,
        api::training_states_are_the_same_bytes,
        layers::a_schedule_is_followed_on_the_host_path,
        tasks::the_tasks_run,
        golden_conv::bad_convolutions_name_the_parameter,
        tasks::the_tasks_are_no_longer_than_pytorchs,
    ]
}

fn gpu_tests() -> Vec<(&'static str, DeviceTest)> {
    tests![DeviceTest;
        crosscheck::binary_ops_with_broadcasting,
        dropout::masks_drop_p_and_agree_with_the_reference,
        custom::a_wgsl_expression_that_does_not_compile_is_an_error,
        crosscheck::unary_ops,
        crosscheck::derivative_ops,
        crosscheck::reductions_and_loss,
        crosscheck::classification_losses,
        crosscheck::gradient_tools,
        crosscheck::accumulate_in_place,
        crosscheck::matmul_odd_shapes_all_transposes,
        crosscheck::matmul_each_tiling_odd_shapes,
        crosscheck::elementwise_launch_past_65535_workgroups,
        crosscheck::ten_xor_training_steps,
        tensor::nd_ops_gpu_matches_cpu,
        golden_conv::convolutions_gpu_match_cpu,
        diagnostics::statistics_and_clipping_gpu_matches_cpu,
        optimizers::optimizer_updates_gpu_matches_cpu,
        optimizers::whole_mlp_training_gpu_matches_cpu,
        training::xor_gpu_matches_cpu_to_three_decimals,
    ]
}

fn both_tests() -> Vec<(&'static str, DeviceTest)> {
    tests![DeviceTest;
        data_parallel::one_rank_trains_exactly_as_one_session,
        data_parallel::batch_norm_statistics_train_as_in_one_session,
        resident::gathered_batches_equal_host_batches,
        resident::training_on_gathered_batches_equals_host_fed,
        resident::orders_and_data_that_do_not_fit_are_errors,
        fusion::fused_training_steps_equal_unfused,
        fusion::fused_convolutions_equal_unfused,
        dropout::the_gradient_goes_through_the_same_mask,
        dropout::dropout_is_off_in_evaluation,
        custom::registered_ops_differentiate_and_match_the_reference,
        golden::weight_decay_nesterov_and_schedules_match_pytorch,
        optimizers::the_learning_rate_changes_between_steps,
        optimizers::gradients_shaped_by_the_user,
        optimizers::values_are_read_by_name,
        classifier::any_class_count_and_a_custom_loss,
        classifier::save_and_load_continue_exactly,
        classifier::evaluation_on_the_device_equals_the_host,
        fusion::the_mlp_step_takes_at_most_thirteen_launches,
        fusion::fusion_never_changes_what_other_nodes_see,
        diagnostics::clipping_leaves_small_gradients_alone_and_clips_by_value,
        diagnostics::non_finite_values_are_reported_with_step_and_source,
        training::xor_converges,
        misuse::node_ids_know_their_graph,
        misuse::bad_indices_are_refused_from_the_host_and_defined_from_the_device,
        view::values_parts_and_kinds,
        semantics::nan_propagates_as_in_pytorch,
        semantics::nan_gradients_and_argmax_follow_pytorch,
        golden::every_op_matches_pytorch,
        golden_nd::every_nd_op_matches_pytorch,
        golden_conv::convolutions_and_poolings_match_pytorch,
        golden_conv::cnn_layers_have_pytorch_names_and_train,
        golden_conv::batch_norm_running_estimates_match_pytorch,
        golden_conv::batch_norm_trains_evaluates_and_saves,
        golden_conv::five_adam_steps_of_the_cnn_match_pytorch,
        tensor::reshapes_share_storage_and_keep_it_alive,
        tensor::custom_binary_ops_broadcast_in_n_dims,
        golden::five_adam_steps_match_pytorch,
        semantics::tanh_is_accurate_near_zero_and_finite_far_out,
        semantics::adam_bias_corrections_are_exact,
        semantics::reused_slots_never_clobber_a_live_value,
        semantics::update_targets_are_never_handed_to_temporaries,
        semantics::step_counts_are_exact_past_two_to_the_24,
        scale::reductions_of_16_million_elements,
        scale::column_sums_over_70000_rows,
        scale::products_with_k_of_70000,
        scale::cross_entropy_over_30000_classes,
        scale::cross_entropy_over_30000_varied_classes,
        resume::five_plus_five_epochs_equal_ten,
        misuse::reads_before_the_first_run_and_of_unkept_nodes,
        training::small_mlp_learns_fashion_mnist,
        layers::user_layers_record_what_they_say,
        layers::user_layers_train_save_and_resume,
        layers::a_schedule_is_followed_every_step,
        layers::one_step_then_a_gradient,
        layers::an_embedding_layer_looks_up_rows,
        penalty::a_penalty_as_a_loss_term_is_the_map_gradients_update,
    ]
}

/// A GPU trial: run on the device; without one, ignored (or failed under REQUIRE_GPU=1).
fn gpu_trial(name: String, test: DeviceTest, gpu: &Result<Device, String>, required: bool) -> Trial {
    match gpu {
        Ok(device) => {
            let device = device.clone();
            Trial::test(name, move || {
                test(&device);
                Ok(())
            })
        }
        Err(why) => {
            let why = format!("no GPU adapter: {why}");
            Trial::test(name, move || Err(Failed::from(why))).with_ignored_flag(!required)
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let required = std::env::var("REQUIRE_GPU").is_ok_and(|v| v == "1");
    let gpu = common::gpu_device();
    let mut trials: Vec<Trial> = cpu_tests()
        .into_iter()
        .map(|(name, test)| {
            Trial::test(name, move || {
                test();
                Ok(())
            })
        })
        .collect();
    for (name, test) in both_tests() {
        trials.push(Trial::test(format!("{name}::cpu"), move || {
            test(&Device::Cpu);
            Ok(())
        }));
        trials.push(gpu_trial(format!("{name}::gpu"), test, &gpu, required));
    }
    for (name, test) in gpu_tests() {
        trials.push(gpu_trial(name.to_owned(), test, &gpu, required));
    }
    if let Err(why) = &gpu {
        let gpu_count = gpu_tests().len() + both_tests().len();
        let verdict = if required { "FAILING (REQUIRE_GPU=1)" } else { "SKIPPING (shown as ignored)" };
        let _ = writeln!(std::io::stderr(), "\n{verdict} {gpu_count} GPU tests: no GPU adapter: {why}\n");
    }
    libtest_mimic::run(&args, trials).exit();
}
