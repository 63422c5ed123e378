-- The daily returns stored with one result row.
SELECT first_day, n_days, encoding, data FROM result_returns WHERE result_id = %(result_id)s;
