SELECT space_hash FROM sweep_studies WHERE study_name = %(study_name)s;
