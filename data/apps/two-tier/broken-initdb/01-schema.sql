-- A deliberately broken init script (a stray comma): the database never becomes ready.
CREATE TABLE messages (
    id INT AUTO_INCREMENT PRIMARY KEY,,
    text VARCHAR(500) NOT NULL
);
