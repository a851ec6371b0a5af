-- Files uploaded for an application's materials: held by the conversation that uploaded them
-- until an application takes them over (application_number set at submission).
CREATE TABLE uploads (
    id TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL,
    owner_id TEXT,
    material TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    application_number TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX uploads_session ON uploads (session_id, created_at);
CREATE INDEX uploads_application ON uploads (application_number);

-- Window appointments (预约): one row a booking. A place in a slot is a seat number below the
-- window's capacity; two live bookings never hold the same seat (the unique index decides
-- between concurrent requests), and one person holds one live booking a service.
CREATE TABLE appointments (
    number TEXT PRIMARY KEY NOT NULL,
    holder_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    hall TEXT NOT NULL,
    window_id TEXT NOT NULL,
    day TEXT NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    seat BIGINT NOT NULL,
    state TEXT NOT NULL,
    session_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX appointments_seat ON appointments (hall, window_id, day, start_time, seat) WHERE state = 'booked';
CREATE UNIQUE INDEX appointments_holder_service ON appointments (holder_id, service_id) WHERE state = 'booked';
CREATE INDEX appointments_holder ON appointments (holder_id, created_at);

-- 服务找人: what a daily job found due for a person (a licence to renew, an allowance one now
-- qualifies for). The key names the occasion, so the same occasion is written once.
CREATE TABLE inbox (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    due TEXT,
    occasion TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX inbox_occasion ON inbox (user_id, occasion);
CREATE INDEX inbox_user ON inbox (user_id, created_at);

-- People who switched reminders off.
CREATE TABLE reminder_optouts (
    user_id TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL
);
