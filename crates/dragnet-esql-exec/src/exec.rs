//! Running compiled plans on DataFusion: one session per executor, one partition (dragnet
//! parallelises across rules and files, not inside one query), a memory pool past which
//! DataFusion's sorts and aggregations spill to disk.

use std::sync::Arc;

use datafusion::common::tree_node::TreeNode;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::compile::Compiled;
use crate::table::TableBatch;
use crate::types::EsqlType;
use crate::value::{Column, Mv};

/// DataFusion's memory pool per executor (`--esql-memory`): sorts and aggregations spill
/// past it.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;

/// A query's result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResultTable {
    pub columns: Vec<(String, EsqlType)>,
    pub rows: Vec<Vec<Mv>>,
}

pub struct Executor {
    ctx: SessionContext,
    state: datafusion::execution::SessionState,
    runtime: tokio::runtime::Runtime,
}

/// A plan optimized once, to run many times over whatever its table holds (a rule's
/// executions): only DataFusion's physical planning is repeated.
pub struct Prepared {
    /// Planned once: its table scan reads the table's batches when it runs.
    physical: Arc<dyn ExecutionPlan>,
    columns: Vec<(String, EsqlType)>,
}

impl Executor {
    pub fn new(memory_limit: usize) -> Result<Executor, String> {
        let runtime_env = RuntimeEnvBuilder::new()
            .with_memory_limit(memory_limit, 1.0)
            .build_arc()
            .map_err(|e| e.to_string())?;
        let config = SessionConfig::new()
            .with_target_partitions(1)
            .with_batch_size(8192);
        let ctx = SessionContext::new_with_config_rt(config, runtime_env);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| format!("cannot start the query runtime: {e}"))?;
        let state = ctx.state();
        Ok(Executor {
            ctx,
            state,
            runtime,
        })
    }

    /// The plan after DataFusion's optimizer.
    pub fn optimize(&self, plan: &LogicalPlan) -> Result<LogicalPlan, String> {
        self.ctx.state().optimize(plan).map_err(|e| e.to_string())
    }

    /// The table columns (indexes into the `FROM` table) an optimized plan reads.
    pub fn needed_columns(&self, compiled: &Compiled) -> Result<Vec<usize>, String> {
        let plan = self.optimize(&compiled.plan)?;
        let mut needed = Vec::new();
        let Some(table) = &compiled.table else {
            return Ok(needed);
        };
        plan.apply(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                match &scan.projection {
                    Some(p) => needed.extend(p.iter().copied()),
                    None => needed.extend(0..table.columns().len()),
                }
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })
        .map_err(|e| e.to_string())?;
        needed.sort_unstable();
        needed.dedup();
        Ok(needed)
    }

    /// The logical and physical plans, as `EXPLAIN` prints them.
    pub fn explain(&self, compiled: &Compiled) -> Result<String, String> {
        let optimized = self.optimize(&compiled.plan)?;
        let physical = self
            .runtime
            .block_on(self.ctx.state().create_physical_plan(&optimized))
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "logical plan:\n{}\nphysical plan:\n{}",
            optimized.display_indent(),
            datafusion::physical_plan::displayable(physical.as_ref()).indent(false)
        ))
    }

    /// Optimizes a compiled query once for [`Executor::run_prepared`].
    pub fn prepare(&self, compiled: &Compiled) -> Result<Prepared, String> {
        let optimized = self.optimize(&compiled.plan)?;
        let physical = self
            .runtime
            .block_on(
                self.state
                    .query_planner()
                    .create_physical_plan(&optimized, &self.state),
            )
            .map_err(|e| e.to_string())?;
        Ok(Prepared {
            physical,
            columns: compiled.columns.clone(),
        })
    }

    /// Runs a prepared query over what its table holds now.
    pub fn run_prepared(&self, prepared: &Prepared) -> Result<ResultTable, String> {
        let batches = self
            .runtime
            .block_on(datafusion::physical_plan::collect(
                prepared.physical.clone(),
                self.state.task_ctx(),
            ))
            .map_err(|e| e.to_string())?;
        Ok(table_of(&batches, &prepared.columns))
    }

    /// Runs a prepared query over what its table holds now, its result as one batch of Arrow
    /// columns (output column `i` at index `i`), to feed another query's table as it is.
    pub fn run_prepared_table(&self, prepared: &Prepared) -> Result<TableBatch, String> {
        let batches = self
            .runtime
            .block_on(datafusion::physical_plan::collect(
                prepared.physical.clone(),
                self.state.task_ctx(),
            ))
            .map_err(|e| e.to_string())?;
        let schema = prepared.physical.schema();
        let one = datafusion::arrow::compute::concat_batches(&schema, &batches)
            .map_err(|e| e.to_string())?;
        Ok(TableBatch {
            rows: one.num_rows(),
            columns: one.columns().iter().cloned().enumerate().collect(),
        })
    }

    /// Runs a compiled query over what its table holds now.
    pub fn run(&self, compiled: &Compiled) -> Result<ResultTable, String> {
        let batches = self
            .runtime
            .block_on(async {
                let df = self.ctx.execute_logical_plan(compiled.plan.clone()).await?;
                df.collect().await
            })
            .map_err(|e| e.to_string())?;
        Ok(table_of(&batches, &compiled.columns))
    }
}

fn table_of(
    batches: &[datafusion::arrow::array::RecordBatch],
    columns: &[(String, EsqlType)],
) -> ResultTable {
    let mut rows = Vec::new();
    for batch in batches {
        let cells: Vec<Column<'_>> = batch
            .columns()
            .iter()
            .zip(columns)
            .map(|(a, (_, ty))| Column::new(a, *ty))
            .collect();
        for r in 0..batch.num_rows() {
            rows.push(cells.iter().map(|c| c.get(r)).collect());
        }
    }
    ResultTable {
        columns: columns.to_vec(),
        rows,
    }
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Executor")
    }
}

#[allow(dead_code)]
fn _assert_send(e: Executor) -> Arc<Executor> {
    Arc::new(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{Options, compile};
    use crate::table::CellTable;
    use crate::udf::Warnings;
    use crate::value::Val;

    fn run(query: &str, catalog: &Arc<CellTable>) -> ResultTable {
        let parsed = dragnet_esql::parse(query).unwrap();
        let options = Options {
            catalog,
            now_ms: 0,
            now_clock: None,
            default_limit: Some(1000),
            warnings: Warnings::default(),
        };
        let compiled = compile(&parsed, query, &options).unwrap_or_else(|e| panic!("{query}: {e}"));
        Executor::new(DEFAULT_MEMORY_LIMIT)
            .unwrap()
            .run(&compiled)
            .unwrap()
    }

    fn s(v: &str) -> Val {
        Val::Str(v.into())
    }

    #[test]
    fn stats_groups_multi_valued_keys_into_each_value() {
        let table = Arc::new(CellTable::new(vec![
            ("k".into(), EsqlType::Keyword),
            ("n".into(), EsqlType::Long),
        ]));
        let rows = vec![
            vec![vec![s("a"), s("b")], vec![Val::Long(1)]],
            vec![vec![s("a")], vec![Val::Long(2), Val::Long(3)]],
            vec![vec![], vec![Val::Long(4)]],
        ];
        table.set_batches(vec![table.batch(&[0, 1], &rows).unwrap()]);
        let catalog = table;
        let r = run(
            "FROM t | STATS c = COUNT(n), s = SUM(n), COUNT(*) BY k | SORT k",
            &catalog,
        );
        let names: Vec<&str> = r.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["c", "s", "COUNT(*)", "k"]);
        assert_eq!(
            r.rows,
            vec![
                vec![
                    vec![Val::Long(3)],
                    vec![Val::Long(6)],
                    vec![Val::Long(2)],
                    vec![s("a")]
                ],
                vec![
                    vec![Val::Long(1)],
                    vec![Val::Long(1)],
                    vec![Val::Long(1)],
                    vec![s("b")]
                ],
                vec![
                    vec![Val::Long(1)],
                    vec![Val::Long(4)],
                    vec![Val::Long(1)],
                    vec![]
                ],
            ]
        );
        // Multi-values make single-value comparisons null: the row is dropped.
        let r = run("FROM t | WHERE k == \"a\" | KEEP n", &catalog);
        assert_eq!(r.rows, vec![vec![vec![Val::Long(2), Val::Long(3)]]]);
    }

    #[test]
    fn row_eval_and_three_valued_where() {
        let catalog = Arc::new(CellTable::new(Vec::new()));
        let r = run(
            "ROW a = 1, b = null | EVAL c = a + 1, d = b > 1 OR true, e = b > 1 AND true | WHERE c == 2",
            &catalog,
        );
        assert_eq!(
            r.rows,
            vec![vec![
                vec![Val::Int(1)],
                vec![],
                vec![Val::Int(2)],
                vec![Val::Bool(true)],
                vec![]
            ]]
        );
        let r = run("ROW a = 2147483647 | EVAL b = a + 1", &catalog);
        assert_eq!(r.rows[0][1], vec![]);
    }
}
