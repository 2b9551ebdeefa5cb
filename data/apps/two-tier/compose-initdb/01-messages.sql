-- Init script of the Compose stack (compose.yaml mounts this folder at
-- /docker-entrypoint-initdb.d). The database image runs it once: on the first start with an
-- empty data volume, in the database named by MYSQL_DATABASE. Later starts find the data and
-- skip it, which is how you can tell a kept volume from a new one.
CREATE TABLE IF NOT EXISTS messages (
    id INT AUTO_INCREMENT PRIMARY KEY,
    text VARCHAR(500) NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
) DEFAULT CHARSET = utf8mb4;

INSERT INTO messages (text) VALUES ('Welcome! This row was written by the init script.');
