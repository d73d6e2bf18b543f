-- One row per reported step holding every series' value (was one row per value): the event
-- sink writes one metric row per epoch instead of eleven. Written by hand: drizzle-kit cannot
-- declare WITHOUT ROWID (the primary key is the row, one B-tree instead of two) or move the rows.
CREATE TABLE `metric_points` (
	`run_id` text NOT NULL,
	`step` integer NOT NULL,
	`epoch` integer,
	`metric_values` text NOT NULL,
	PRIMARY KEY(`run_id`, `step`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `metric_points` (`run_id`, `step`, `epoch`, `metric_values`)
SELECT `run_id`, `step`, max(`epoch`), json_group_object(`key`, `value`)
FROM `metrics`
GROUP BY `run_id`, `step`;
--> statement-breakpoint
DROP TABLE `metrics`;
