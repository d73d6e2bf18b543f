CREATE TABLE `experiments` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`spec` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`key` text PRIMARY KEY NOT NULL,
	`fingerprint` text NOT NULL,
	`state` text NOT NULL,
	`status` integer,
	`body` text,
	`location` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `metrics` (
	`run_id` text NOT NULL,
	`key` text NOT NULL,
	`step` integer NOT NULL,
	`epoch` integer,
	`value` real NOT NULL,
	PRIMARY KEY(`run_id`, `key`, `step`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `run_events` (
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`attempt` integer NOT NULL,
	`replay_key` text,
	`payload` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`run_id`, `seq`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `run_events_replay_key` ON `run_events` (`run_id`,`replay_key`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` text PRIMARY KEY NOT NULL,
	`experiment_id` text NOT NULL,
	`arm` text NOT NULL,
	`label` text NOT NULL,
	`seed` integer NOT NULL,
	`position` integer NOT NULL,
	`state` text DEFAULT 'queued' NOT NULL,
	`attempt` integer DEFAULT 0 NOT NULL,
	`cancel_requested` integer DEFAULT false NOT NULL,
	`backend_requested` text NOT NULL,
	`backend` text,
	`epochs` integer NOT NULL,
	`epochs_completed` integer DEFAULT 0 NOT NULL,
	`checkpoint_epoch` integer,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`top1` real,
	`best_top1` real,
	`wall_seconds` real,
	`train_seconds` real,
	`flops_per_image_mean` real,
	`flops_full` real,
	`failure_reason` text,
	`failure_message` text,
	`result` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`experiment_id`) REFERENCES `experiments`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `runs_experiment_label_seed` ON `runs` (`experiment_id`,`label`,`seed`);--> statement-breakpoint
CREATE INDEX `runs_state_created` ON `runs` (`state`,`created_at`);--> statement-breakpoint
CREATE TABLE `search_candidates` (
	`run_id` text NOT NULL,
	`stage` integer NOT NULL,
	`idx` integer NOT NULL,
	`depth` integer,
	`side` integer,
	`tokens` integer,
	`loss` real,
	`cost` real,
	`score` real,
	`selected` integer,
	`payload` text NOT NULL,
	PRIMARY KEY(`run_id`, `stage`, `idx`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `stages` (
	`run_id` text NOT NULL,
	`stage` integer NOT NULL,
	`start_epoch` integer NOT NULL,
	`epochs` integer NOT NULL,
	`depth` integer,
	`side` integer,
	`tokens` integer,
	`flops_per_image` real,
	`state` text DEFAULT 'planned' NOT NULL,
	`operator` text,
	`growth` text,
	`started_at` integer,
	PRIMARY KEY(`run_id`, `stage`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
);
