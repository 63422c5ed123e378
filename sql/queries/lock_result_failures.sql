SELECT gate_failures FROM model_results WHERE id = %(result_id)s FOR UPDATE;
