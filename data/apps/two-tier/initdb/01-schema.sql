-- Runs once, when the database starts with an empty data volume: the image's entrypoint feeds
-- every *.sql file in /docker-entrypoint-initdb.d to the database named by MYSQL_DATABASE.
-- The same table the app creates on start-up (CREATE TABLE IF NOT EXISTS, so either may be first).
CREATE TABLE IF NOT EXISTS messages (
    id INT AUTO_INCREMENT PRIMARY KEY,
    text VARCHAR(500) NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
