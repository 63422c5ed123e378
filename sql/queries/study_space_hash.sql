SELECT space_hash, data_fingerprint FROM sweep_studies WHERE study_name = %(study_name)s;
