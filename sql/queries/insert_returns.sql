INSERT INTO result_returns (result_id, first_day, n_days, encoding, data)
VALUES (%(result_id)s, %(first_day)s, %(n_days)s, %(encoding)s, %(data)s);
