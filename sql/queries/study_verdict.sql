-- A study's status and its recorded verdict (NULL until it is judged).
SELECT status, stats ->> 'verdict' AS verdict,
       ARRAY(SELECT jsonb_array_elements_text(coalesce(stats -> 'verdict_reasons', '[]'::jsonb)))
           AS reasons
FROM sweep_studies
WHERE study_name = %(study_name)s;
