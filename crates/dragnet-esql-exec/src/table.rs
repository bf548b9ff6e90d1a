//! The table `FROM` reads: every column of the source's mapping in its schema, but only the
//! columns a plan reads held in memory.
//!
//! A [`CellTable`] declares all the fields its source maps (so `KEEP aws.*` sees every
//! mapped `aws.` field, as in Elasticsearch) while its batches carry only the columns that
//! were filled ([`TableBatch`]); a scan hands DataFusion the projected columns, the unfilled
//! ones as nulls. DataFusion's projection pushdown tells the filler which columns a plan
//! needs ([`crate::Executor::needed_columns`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};

use crate::types::EsqlType;
use crate::value::{Mv, build};

/// Rows of some of a table's columns.
#[derive(Clone, Debug)]
pub struct TableBatch {
    pub rows: usize,
    /// (column index in the table, list array of `rows` cells).
    pub columns: Vec<(usize, ArrayRef)>,
}

impl TableBatch {
    /// Rows `offset..offset + len` of the batch, sharing its buffers (no copy): one batch of
    /// time-sorted rows serves every window of a rule's schedule.
    pub fn slice(&self, offset: usize, len: usize) -> TableBatch {
        TableBatch {
            rows: len,
            columns: self
                .columns
                .iter()
                .map(|(c, a)| (*c, a.slice(offset, len)))
                .collect(),
        }
    }
}

#[derive(Debug)]
pub struct CellTable {
    columns: Vec<(String, EsqlType)>,
    index: HashMap<String, usize>,
    schema: SchemaRef,
    /// Shared with the scans planned over the table: they read what it holds when they run,
    /// so one physical plan serves every execution of a rule ([`crate::Prepared`]).
    batches: Arc<Mutex<Vec<TableBatch>>>,
}

impl CellTable {
    pub fn new(columns: Vec<(String, EsqlType)>) -> CellTable {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, ty)| Field::new(name, ty.column(), true))
            .collect();
        let index = columns
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i))
            .collect();
        CellTable {
            columns,
            index,
            schema: Arc::new(Schema::new(fields)),
            batches: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn columns(&self) -> &[(String, EsqlType)] {
        &self.columns
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Replaces the rows the next scan reads.
    pub fn set_batches(&self, batches: Vec<TableBatch>) {
        *self.batches.lock().unwrap_or_else(|e| e.into_inner()) = batches;
    }

    /// A batch of `rows` (each the cells of `columns`, in that order).
    pub fn batch(&self, columns: &[usize], rows: &[Vec<Mv>]) -> Result<TableBatch> {
        let mut out = Vec::with_capacity(columns.len());
        for (i, &c) in columns.iter().enumerate() {
            let cells: Vec<Mv> = rows
                .iter()
                .map(|r| r.get(i).cloned().unwrap_or_default())
                .collect();
            out.push((c, build(self.columns[c].1, &cells)?));
        }
        Ok(TableBatch {
            rows: rows.len(),
            columns: out,
        })
    }
}

#[async_trait]
impl TableProvider for CellTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let wanted: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.columns.len()).collect(),
        };
        let schema = Arc::new(self.schema.project(&wanted)?);
        Ok(Arc::new(LiveScan::new(
            self.batches.clone(),
            self.columns.iter().map(|(_, t)| *t).collect(),
            wanted,
            schema,
        )))
    }
}

/// The scan of a [`CellTable`]: reads the batches the table holds when it executes (not when
/// it is planned), the projected columns only, those no batch filled as nulls.
#[derive(Debug)]
struct LiveScan {
    batches: Arc<Mutex<Vec<TableBatch>>>,
    types: Vec<EsqlType>,
    wanted: Vec<usize>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl LiveScan {
    fn new(
        batches: Arc<Mutex<Vec<TableBatch>>>,
        types: Vec<EsqlType>,
        wanted: Vec<usize>,
        schema: SchemaRef,
    ) -> LiveScan {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        LiveScan {
            batches,
            types,
            wanted,
            schema,
            properties: Arc::new(properties),
        }
    }

    fn record_batches(&self) -> Result<Vec<RecordBatch>> {
        let batches = self
            .batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut out = Vec::with_capacity(batches.len());
        for batch in &batches {
            let arrays: Vec<ArrayRef> = self
                .wanted
                .iter()
                .map(|&c| {
                    batch
                        .columns
                        .iter()
                        .find(|(i, _)| *i == c)
                        .map(|(_, a)| a.clone())
                        .unwrap_or_else(|| new_null_array(&self.types[c].column(), batch.rows))
                })
                .collect();
            let options = RecordBatchOptions::new().with_row_count(Some(batch.rows));
            out.push(RecordBatch::try_new_with_options(
                self.schema.clone(),
                arrays,
                &options,
            )?);
        }
        Ok(out)
    }
}

impl DisplayAs for LiveScan {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CellTableScan: columns={}", self.wanted.len())
    }
}

impl ExecutionPlan for LiveScan {
    fn name(&self) -> &'static str {
        "CellTableScan"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        Ok(Box::pin(MemoryStream::try_new(
            self.record_batches()?,
            self.schema.clone(),
            None,
        )?))
    }
}
