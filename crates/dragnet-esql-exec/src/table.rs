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
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::types::EsqlType;
use crate::value::{Mv, build};

/// Rows of some of a table's columns.
#[derive(Clone, Debug)]
pub struct TableBatch {
    pub rows: usize,
    /// (column index in the table, list array of `rows` cells).
    pub columns: Vec<(usize, ArrayRef)>,
}

#[derive(Debug)]
pub struct CellTable {
    columns: Vec<(String, EsqlType)>,
    index: HashMap<String, usize>,
    schema: SchemaRef,
    batches: Mutex<Vec<TableBatch>>,
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
            batches: Mutex::new(Vec::new()),
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
        let batches = self
            .batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut out = Vec::with_capacity(batches.len());
        for batch in &batches {
            let arrays: Vec<ArrayRef> = wanted
                .iter()
                .map(|&c| {
                    batch
                        .columns
                        .iter()
                        .find(|(i, _)| *i == c)
                        .map(|(_, a)| a.clone())
                        .unwrap_or_else(|| new_null_array(&self.columns[c].1.column(), batch.rows))
                })
                .collect();
            let options = RecordBatchOptions::new().with_row_count(Some(batch.rows));
            out.push(RecordBatch::try_new_with_options(
                schema.clone(),
                arrays,
                &options,
            )?);
        }
        Ok(MemorySourceConfig::try_new_exec(&[out], schema, None)?)
    }
}
