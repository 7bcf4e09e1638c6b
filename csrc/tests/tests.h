/* SPDX-License-Identifier: MIT */
/* tests.h: the list of core tests, run in this order. */
#ifndef TESTS_H
#define TESTS_H

#define TESTS(X) \
  X(test_locals_die_with_their_scope) \
  X(test_open_scope_keeps_object_through_both_collections) \
  X(test_escaped_value_outlives_its_scope) \
  X(test_seal_scope_refuses_handles_but_not_inside_a_nested_scope) \
  X(test_blocks_grow_and_all_but_one_spare_are_freed) \
  X(test_stale_locals_are_detected_even_after_slot_reuse) \
  X(test_scopes_close_innermost_first) \
  X(test_array_from_holds_its_elements_through_collections) \
  X(test_array_from_a_stale_element_fails_before_allocating) \
  X(test_array_unpack_reads_elements_into_new_locals) \
  X(test_scope_tokens_copy_and_sl_scope_at_closes_leaked_scopes) \
  X(test_a_zeroed_scope_token_is_refused_not_followed) \
  X(test_a_local_with_a_zeroed_stamp_is_refused_with_no_scope_open) \
  X(test_handle_of_another_isolate_is_refused) \
  X(test_capacity_scope_refuses_the_extra_handle) \
  X(test_handle_watch_fires_once_per_scope) \
  X(test_handle_watch_turned_on_inside_nested_scopes_watches_the_outer_ones) \
  X(test_failed_allocation_at_a_block_start_keeps_the_block) \
  X(test_scope_depth_limit_is_an_error_not_a_broken_stamp) \
  X(test_handle_watch_fires_inside_capacity_scopes) \
  X(test_allocation_from_a_hook_is_refused) \
  X(test_weak_callbacks_run_after_a_failed_allocation) \
  X(test_a_string_made_from_another_strings_bytes_survives_the_move) \
  X(test_promotion_after_the_configured_number_of_scavenges) \
  X(test_old_array_keeps_young_object_alive_through_minor_collections) \
  X(test_unreachable_cycle_is_collected_by_a_major_collection) \
  X(test_million_node_list_survives_both_collections) \
  X(test_heap_exhaustion_is_an_error_and_the_isolate_recovers) \
  X(test_strings_and_numbers_keep_their_values_when_moved) \
  X(test_stress_compaction_moves_every_live_object) \
  X(test_gc_interval_collects_every_n_allocations) \
  X(test_allocation_counters_survive_collections_and_failures) \
  X(test_gc_at_collects_at_the_given_allocation_counts) \
  X(test_retaining_path_names_root_and_steps) \
  X(test_isolates_in_two_threads_share_nothing) \
  X(test_persistent_keeps_object_until_reset) \
  X(test_deleted_persistent_is_refused) \
  X(test_weak_handle_is_emptied_before_its_callback_runs_once) \
  X(test_clear_weak_makes_the_handle_strong_again) \
  X(test_weak_callback_may_allocate_and_collect) \
  X(test_young_weak_object_dies_in_a_minor_collection) \
  X(test_weak_handle_follows_its_object_when_it_moves) \
  X(test_ten_thousand_weak_handles_cleared_in_order) \
  X(test_a_callback_whose_handle_an_earlier_one_reset_is_skipped) \
  X(test_eternal_handles_live_as_long_as_the_isolate) \
  X(test_probe_of_a_dead_object_stays_dead) \
  X(test_scavenges_visit_only_nodes_holding_young_objects) \
  X(test_the_layout_matches_the_abi_version) \
  X(test_array_from_refuses_a_local_whose_scope_a_callback_closed) \
  X(test_array_from_refuses_a_local_whose_scope_a_callback_closed_and_refilled) \
  X(test_persistents_and_probes_of_another_isolate_are_refused_unread) \
  X(test_a_report_over_a_hundred_thousand_nested_scopes_is_one_pass) \
  X(test_a_capacity_scope_over_tiny_blocks_stays_linear) \
  X(test_a_smi_lives_in_its_slot_and_allocates_nothing) \
  X(test_the_read_only_roots_need_no_scope_and_never_move) \
  X(test_an_eternal_local_is_its_own_slot) \
  X(test_properties_survive_both_collections_in_insertion_order) \
  X(test_an_old_object_keeps_a_young_property_value_through_scavenges) \
  X(test_internal_fields_hold_values_or_pointers_never_followed) \
  X(test_an_external_holds_its_pointer_through_moves) \
  X(test_a_retaining_path_names_properties_and_fields) \
  X(test_a_call_runs_its_callback_inside_an_implicit_scope) \
  X(test_calls_nest_and_each_frame_is_a_root) \
  X(test_a_failing_callback_fails_the_call_and_the_isolate_goes_on) \
  X(test_a_call_with_no_scope_or_under_a_seal_is_refused_before_it_runs) \
  X(test_tasks_run_in_order_and_new_ones_wait_for_the_next_run) \
  X(test_check_thread_refuses_a_thread_that_does_not_own_the_isolate) \
  X(test_a_first_pass_runs_in_the_collection_and_may_only_reset) \
  X(test_a_second_pass_waits_as_a_task_after_an_allocation_collects) \
  X(test_a_first_pass_that_keeps_its_handle_fails_the_collection_after_it) \
  X(test_external_memory_past_its_limit_runs_a_full_collection) \
  X(test_external_memory_freed_after_a_full_collection_lowers_its_mark) \
  X(test_old_space_growing_past_the_factor_runs_a_full_collection) \
  X(test_sl_checked_sends_every_inline_call_through_the_thread_check) \
  X(test_a_small_function_born_old_remembers_its_young_data) \
  X(test_a_callback_failing_without_a_message_is_not_blamed_on_an_old_one) \
  X(test_a_failed_call_takes_its_result_slot_back_only_from_its_own_scope) \
  X(test_the_watch_hook_cannot_dispose_the_isolate) \
  X(test_the_collection_that_ran_a_first_pass_reports_its_kept_handle) \
  X(test_a_failed_set_keeps_its_message_over_a_weak_callbacks)

#define DECLARE(name) void name(void);
TESTS(DECLARE)

#endif
